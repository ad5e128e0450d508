-- AlterTable
ALTER TABLE "api_tokens" ADD COLUMN     "expires_at" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "login_attempts" (
    "key" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL,
    "reset_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "login_attempts_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "tag_budget_spends" (
    "id" BIGSERIAL NOT NULL,
    "scope" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,
    "count" INTEGER NOT NULL,

    CONSTRAINT "tag_budget_spends_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "app_secrets" (
    "name" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "app_secrets_pkey" PRIMARY KEY ("name")
);

-- CreateIndex
CREATE INDEX "login_attempts_reset_at_idx" ON "login_attempts"("reset_at");

-- CreateIndex
CREATE INDEX "tag_budget_spends_scope_at_idx" ON "tag_budget_spends"("scope", "at");

-- Tokens made before tokens expired: they get the default lifetime from now on.
UPDATE "api_tokens" SET "expires_at" = CURRENT_TIMESTAMP + INTERVAL '90 days' WHERE "revoked_at" IS NULL;
