-- AlterTable
ALTER TABLE "predictions" ADD COLUMN     "sync_generation" INTEGER;
-- Scores diffed before sync generations were recorded count as diffed (generation 0), not as waiting.
UPDATE "predictions" SET "sync_generation" = 0;

-- CreateTable
CREATE TABLE "tag_syncs" (
    "id" SERIAL NOT NULL,
    "booru_id" INTEGER NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),
    "status" TEXT NOT NULL DEFAULT 'running',
    "error" TEXT,

    CONSTRAINT "tag_syncs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "tag_syncs_booru_id_id_idx" ON "tag_syncs"("booru_id", "id");

-- AddForeignKey
ALTER TABLE "tag_syncs" ADD CONSTRAINT "tag_syncs_booru_id_fkey" FOREIGN KEY ("booru_id") REFERENCES "boorus"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
