-- CreateIndex
CREATE INDEX "posts_md5_idx" ON "posts"("md5");
