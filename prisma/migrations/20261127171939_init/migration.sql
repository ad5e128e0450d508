-- CreateEnum
CREATE TYPE "BooruKind" AS ENUM ('danbooru', 'e621', 'moebooru', 'gelbooru');

-- CreateEnum
CREATE TYPE "PostState" AS ENUM ('new', 'queued', 'tagged', 'skipped', 'failed');

-- CreateEnum
CREATE TYPE "SuggestionAction" AS ENUM ('add', 'remove', 'rating');

-- CreateEnum
CREATE TYPE "SuggestionStatus" AS ENUM ('pending', 'approved', 'rejected', 'applied', 'failed', 'superseded', 'already_applied');

-- CreateEnum
CREATE TYPE "Role" AS ENUM ('viewer', 'moderator', 'admin');

-- CreateTable
CREATE TABLE "boorus" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "kind" "BooruKind" NOT NULL,
    "base_url" TEXT NOT NULL,
    "credentials_ref" TEXT,
    "active_model_id" INTEGER,
    "active_rating_model_id" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "boorus_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "posts" (
    "id" SERIAL NOT NULL,
    "booru_id" INTEGER NOT NULL,
    "remote_id" INTEGER NOT NULL,
    "md5" TEXT,
    "rating" TEXT,
    "tags" TEXT[],
    "tags_version" INTEGER NOT NULL DEFAULT 1,
    "file_url" TEXT,
    "preview_url" TEXT,
    "media_url" TEXT,
    "variants" JSONB,
    "width" INTEGER,
    "height" INTEGER,
    "file_ext" TEXT,
    "file_size" INTEGER,
    "is_deleted" BOOLEAN NOT NULL DEFAULT false,
    "is_banned" BOOLEAN NOT NULL DEFAULT false,
    "is_pending" BOOLEAN NOT NULL DEFAULT false,
    "remote_updated_at" TIMESTAMPTZ(3),
    "state" "PostState" NOT NULL DEFAULT 'new',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "skip_reason" TEXT,
    "lease_owner" TEXT,
    "lease_expires_at" TIMESTAMPTZ(3),
    "tagged_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "posts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tags" (
    "id" SERIAL NOT NULL,
    "booru_id" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "category" INTEGER NOT NULL DEFAULT 0,
    "post_count" INTEGER NOT NULL DEFAULT 0,
    "is_deprecated" BOOLEAN NOT NULL DEFAULT false,
    "remote_updated_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "tags_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tag_aliases" (
    "id" SERIAL NOT NULL,
    "booru_id" INTEGER NOT NULL,
    "antecedent" TEXT NOT NULL,
    "consequent" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "tag_aliases_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tag_implications" (
    "id" SERIAL NOT NULL,
    "booru_id" INTEGER NOT NULL,
    "antecedent" TEXT NOT NULL,
    "consequent" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "tag_implications_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "models" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "family" TEXT NOT NULL,
    "purpose" TEXT NOT NULL DEFAULT 'tags',
    "vocab_size" INTEGER NOT NULL,
    "labels" JSONB NOT NULL,
    "manifest" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "models_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "predictions" (
    "id" SERIAL NOT NULL,
    "post_id" INTEGER NOT NULL,
    "model_id" INTEGER NOT NULL,
    "label_idx" INTEGER[],
    "scores" REAL[],
    "floor" REAL NOT NULL,
    "tags_version" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "predictions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "suggestions" (
    "id" SERIAL NOT NULL,
    "post_id" INTEGER NOT NULL,
    "tag" TEXT NOT NULL,
    "action" "SuggestionAction" NOT NULL,
    "category" INTEGER,
    "score" REAL NOT NULL,
    "model_id" INTEGER NOT NULL,
    "reason" TEXT NOT NULL,
    "status" "SuggestionStatus" NOT NULL DEFAULT 'pending',
    "is_open" BOOLEAN DEFAULT true,
    "tags_version" INTEGER NOT NULL,
    "decided_by_id" INTEGER,
    "decided_at" TIMESTAMPTZ(3),
    "apply_outcome" TEXT,
    "apply_error" TEXT,
    "applied_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "suggestions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "decisions" (
    "id" SERIAL NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "user_id" INTEGER,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "suggestion_id" INTEGER,
    "post_id" INTEGER,
    "detail" JSONB,
    "origin" TEXT,

    CONSTRAINT "decisions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tag_edits" (
    "id" SERIAL NOT NULL,
    "post_id" INTEGER NOT NULL,
    "suggestion_ids" INTEGER[],
    "old_tag_string" TEXT NOT NULL,
    "new_tag_string" TEXT NOT NULL,
    "result_tags" TEXT[],
    "outcome" TEXT NOT NULL,
    "error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tag_edits_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "users" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "role" "Role" NOT NULL,
    "password_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "disabled_at" TIMESTAMPTZ(3),

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sessions" (
    "id" TEXT NOT NULL,
    "user_id" INTEGER NOT NULL,
    "csrf_token" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_tokens" (
    "id" SERIAL NOT NULL,
    "user_id" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "token_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "crawl_cursors" (
    "id" SERIAL NOT NULL,
    "booru_id" INTEGER NOT NULL,
    "kind" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "crawl_cursors_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "report_runs" (
    "id" SERIAL NOT NULL,
    "booru_id" INTEGER,
    "since" TIMESTAMPTZ(3),
    "until" TIMESTAMPTZ(3) NOT NULL,
    "format" TEXT NOT NULL,
    "path" TEXT,
    "summary" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "report_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "thresholds" (
    "id" SERIAL NOT NULL,
    "booru_id" INTEGER NOT NULL,
    "scope" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "action" "SuggestionAction" NOT NULL,
    "value" REAL NOT NULL,
    "source" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "evidence" JSONB,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "thresholds_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "boorus_name_key" ON "boorus"("name");

-- CreateIndex
CREATE UNIQUE INDEX "boorus_base_url_key" ON "boorus"("base_url");

-- CreateIndex
CREATE INDEX "posts_booru_id_state_remote_id_idx" ON "posts"("booru_id", "state", "remote_id");

-- CreateIndex
CREATE INDEX "posts_state_lease_expires_at_idx" ON "posts"("state", "lease_expires_at");

-- CreateIndex
CREATE UNIQUE INDEX "posts_booru_id_remote_id_key" ON "posts"("booru_id", "remote_id");

-- CreateIndex
CREATE UNIQUE INDEX "tags_booru_id_name_key" ON "tags"("booru_id", "name");

-- CreateIndex
CREATE INDEX "tag_aliases_booru_id_status_antecedent_idx" ON "tag_aliases"("booru_id", "status", "antecedent");

-- CreateIndex
CREATE UNIQUE INDEX "tag_aliases_booru_id_antecedent_consequent_key" ON "tag_aliases"("booru_id", "antecedent", "consequent");

-- CreateIndex
CREATE INDEX "tag_implications_booru_id_status_antecedent_idx" ON "tag_implications"("booru_id", "status", "antecedent");

-- CreateIndex
CREATE UNIQUE INDEX "tag_implications_booru_id_antecedent_consequent_key" ON "tag_implications"("booru_id", "antecedent", "consequent");

-- CreateIndex
CREATE UNIQUE INDEX "models_sha256_key" ON "models"("sha256");

-- CreateIndex
CREATE UNIQUE INDEX "models_name_version_key" ON "models"("name", "version");

-- CreateIndex
CREATE UNIQUE INDEX "predictions_post_id_model_id_key" ON "predictions"("post_id", "model_id");

-- CreateIndex
CREATE INDEX "suggestions_status_score_idx" ON "suggestions"("status", "score");

-- CreateIndex
CREATE INDEX "suggestions_status_tag_idx" ON "suggestions"("status", "tag");

-- CreateIndex
CREATE UNIQUE INDEX "suggestions_post_id_tag_action_is_open_key" ON "suggestions"("post_id", "tag", "action", "is_open");

-- CreateIndex
CREATE INDEX "decisions_suggestion_id_idx" ON "decisions"("suggestion_id");

-- CreateIndex
CREATE INDEX "decisions_at_idx" ON "decisions"("at");

-- CreateIndex
CREATE INDEX "tag_edits_post_id_idx" ON "tag_edits"("post_id");

-- CreateIndex
CREATE UNIQUE INDEX "users_name_key" ON "users"("name");

-- CreateIndex
CREATE INDEX "sessions_expires_at_idx" ON "sessions"("expires_at");

-- CreateIndex
CREATE UNIQUE INDEX "api_tokens_token_hash_key" ON "api_tokens"("token_hash");

-- CreateIndex
CREATE UNIQUE INDEX "crawl_cursors_booru_id_kind_key" ON "crawl_cursors"("booru_id", "kind");

-- CreateIndex
CREATE UNIQUE INDEX "thresholds_booru_id_scope_key_action_key" ON "thresholds"("booru_id", "scope", "key", "action");

-- AddForeignKey
ALTER TABLE "boorus" ADD CONSTRAINT "boorus_active_model_id_fkey" FOREIGN KEY ("active_model_id") REFERENCES "models"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "boorus" ADD CONSTRAINT "boorus_active_rating_model_id_fkey" FOREIGN KEY ("active_rating_model_id") REFERENCES "models"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "posts" ADD CONSTRAINT "posts_booru_id_fkey" FOREIGN KEY ("booru_id") REFERENCES "boorus"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tags" ADD CONSTRAINT "tags_booru_id_fkey" FOREIGN KEY ("booru_id") REFERENCES "boorus"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tag_aliases" ADD CONSTRAINT "tag_aliases_booru_id_fkey" FOREIGN KEY ("booru_id") REFERENCES "boorus"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tag_implications" ADD CONSTRAINT "tag_implications_booru_id_fkey" FOREIGN KEY ("booru_id") REFERENCES "boorus"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "predictions" ADD CONSTRAINT "predictions_post_id_fkey" FOREIGN KEY ("post_id") REFERENCES "posts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "predictions" ADD CONSTRAINT "predictions_model_id_fkey" FOREIGN KEY ("model_id") REFERENCES "models"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "suggestions" ADD CONSTRAINT "suggestions_post_id_fkey" FOREIGN KEY ("post_id") REFERENCES "posts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "suggestions" ADD CONSTRAINT "suggestions_model_id_fkey" FOREIGN KEY ("model_id") REFERENCES "models"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "suggestions" ADD CONSTRAINT "suggestions_decided_by_id_fkey" FOREIGN KEY ("decided_by_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "decisions" ADD CONSTRAINT "decisions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "decisions" ADD CONSTRAINT "decisions_suggestion_id_fkey" FOREIGN KEY ("suggestion_id") REFERENCES "suggestions"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tag_edits" ADD CONSTRAINT "tag_edits_post_id_fkey" FOREIGN KEY ("post_id") REFERENCES "posts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "crawl_cursors" ADD CONSTRAINT "crawl_cursors_booru_id_fkey" FOREIGN KEY ("booru_id") REFERENCES "boorus"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "report_runs" ADD CONSTRAINT "report_runs_booru_id_fkey" FOREIGN KEY ("booru_id") REFERENCES "boorus"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "thresholds" ADD CONSTRAINT "thresholds_booru_id_fkey" FOREIGN KEY ("booru_id") REFERENCES "boorus"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
