import { defineConfig } from 'prisma/config';

// Prisma 7 reads the database URL from here, not from the schema. Defaults to the local Postgres.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/lumbar' },
});
