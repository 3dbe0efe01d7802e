-- CreateEnum
CREATE TYPE "StudyStatus" AS ENUM ('receiving', 'queued', 'analyzing', 'analyzed', 'failed');

-- CreateEnum
CREATE TYPE "AnalysisStatus" AS ENUM ('queued', 'running', 'succeeded', 'failed');

-- CreateEnum
CREATE TYPE "ExportStatus" AS ENUM ('pending', 'sending', 'succeeded', 'failed');

-- CreateTable
CREATE TABLE "studies" (
    "id" SERIAL NOT NULL,
    "study_instance_uid" TEXT NOT NULL,
    "patient_id" TEXT,
    "patient_name" TEXT,
    "accession_number" TEXT,
    "study_date" TEXT,
    "study_description" TEXT,
    "status" "StudyStatus" NOT NULL DEFAULT 'receiving',
    "instance_count" INTEGER NOT NULL DEFAULT 0,
    "first_received_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_received_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "studies_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "series" (
    "id" SERIAL NOT NULL,
    "study_id" INTEGER NOT NULL,
    "series_instance_uid" TEXT NOT NULL,
    "modality" TEXT,
    "series_number" INTEGER,
    "series_description" TEXT,

    CONSTRAINT "series_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "instances" (
    "id" SERIAL NOT NULL,
    "series_id" INTEGER NOT NULL,
    "sop_instance_uid" TEXT NOT NULL,
    "sop_class_uid" TEXT NOT NULL,
    "transfer_syntax_uid" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "size_bytes" INTEGER NOT NULL,
    "sha256" TEXT NOT NULL,
    "calling_ae_title" TEXT NOT NULL,
    "received_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "instances_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "analyses" (
    "id" SERIAL NOT NULL,
    "study_id" INTEGER NOT NULL,
    "algorithm_name" TEXT NOT NULL,
    "algorithm_version" TEXT NOT NULL,
    "status" "AnalysisStatus" NOT NULL DEFAULT 'queued',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "summary" TEXT,
    "last_error" TEXT,
    "document" JSONB,
    "output_dir" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMP(3),
    "finished_at" TIMESTAMP(3),

    CONSTRAINT "analyses_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "findings" (
    "id" SERIAL NOT NULL,
    "analysis_id" INTEGER NOT NULL,
    "level" TEXT NOT NULL,
    "diagnosis" TEXT NOT NULL,
    "probabilities" JSONB NOT NULL,
    "reason" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "findings_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "outputs" (
    "id" SERIAL NOT NULL,
    "analysis_id" INTEGER NOT NULL,
    "kind" TEXT NOT NULL,
    "view" TEXT,
    "file" TEXT NOT NULL,
    "sop_class_uid" TEXT NOT NULL,
    "sop_instance_uid" TEXT NOT NULL,
    "series_instance_uid" TEXT NOT NULL,

    CONSTRAINT "outputs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "exports" (
    "id" SERIAL NOT NULL,
    "analysis_id" INTEGER NOT NULL,
    "destination" TEXT NOT NULL,
    "status" "ExportStatus" NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_status" INTEGER,
    "last_error" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sent_at" TIMESTAMP(3),

    CONSTRAINT "exports_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_events" (
    "id" SERIAL NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "subject_type" TEXT NOT NULL,
    "subject_id" TEXT,
    "details" JSONB,

    CONSTRAINT "audit_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_keys" (
    "id" SERIAL NOT NULL,
    "prefix" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "scopes" TEXT[],
    "name" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMP(3),
    "revoked_at" TIMESTAMP(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "studies_study_instance_uid_key" ON "studies"("study_instance_uid");

-- CreateIndex
CREATE INDEX "studies_status_last_received_at_idx" ON "studies"("status", "last_received_at");

-- CreateIndex
CREATE UNIQUE INDEX "series_series_instance_uid_key" ON "series"("series_instance_uid");

-- CreateIndex
CREATE INDEX "series_study_id_idx" ON "series"("study_id");

-- CreateIndex
CREATE UNIQUE INDEX "instances_sop_instance_uid_key" ON "instances"("sop_instance_uid");

-- CreateIndex
CREATE INDEX "instances_series_id_idx" ON "instances"("series_id");

-- CreateIndex
CREATE INDEX "analyses_status_idx" ON "analyses"("status");

-- CreateIndex
CREATE UNIQUE INDEX "analyses_study_id_algorithm_version_key" ON "analyses"("study_id", "algorithm_version");

-- CreateIndex
CREATE UNIQUE INDEX "findings_analysis_id_level_key" ON "findings"("analysis_id", "level");

-- CreateIndex
CREATE UNIQUE INDEX "outputs_sop_instance_uid_key" ON "outputs"("sop_instance_uid");

-- CreateIndex
CREATE INDEX "outputs_analysis_id_idx" ON "outputs"("analysis_id");

-- CreateIndex
CREATE INDEX "exports_status_idx" ON "exports"("status");

-- CreateIndex
CREATE UNIQUE INDEX "exports_analysis_id_destination_key" ON "exports"("analysis_id", "destination");

-- CreateIndex
CREATE INDEX "audit_events_at_idx" ON "audit_events"("at");

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_prefix_key" ON "api_keys"("prefix");

-- AddForeignKey
ALTER TABLE "series" ADD CONSTRAINT "series_study_id_fkey" FOREIGN KEY ("study_id") REFERENCES "studies"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "instances" ADD CONSTRAINT "instances_series_id_fkey" FOREIGN KEY ("series_id") REFERENCES "series"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "analyses" ADD CONSTRAINT "analyses_study_id_fkey" FOREIGN KEY ("study_id") REFERENCES "studies"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "findings" ADD CONSTRAINT "findings_analysis_id_fkey" FOREIGN KEY ("analysis_id") REFERENCES "analyses"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "outputs" ADD CONSTRAINT "outputs_analysis_id_fkey" FOREIGN KEY ("analysis_id") REFERENCES "analyses"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "exports" ADD CONSTRAINT "exports_analysis_id_fkey" FOREIGN KEY ("analysis_id") REFERENCES "analyses"("id") ON DELETE CASCADE ON UPDATE CASCADE;
