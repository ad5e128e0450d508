-- AlterTable
ALTER TABLE "workers" ADD COLUMN     "booru_ok_at" TIMESTAMPTZ(3);
