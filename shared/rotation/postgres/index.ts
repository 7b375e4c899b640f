export { createPostgresRotator, classifyPgError } from './rotator.js';
export type { PgSession, PostgresCredentialValue, PostgresRotatorOptions } from './rotator.js';
export { scramSha256Verifier } from './scram.js';
