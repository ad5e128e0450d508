-- AlterEnum
ALTER TYPE "BooruKind" ADD VALUE 'szurubooru';
