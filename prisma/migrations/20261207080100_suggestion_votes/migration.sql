-- AlterTable
ALTER TABLE "suggestions" ADD COLUMN     "votes" JSONB;
