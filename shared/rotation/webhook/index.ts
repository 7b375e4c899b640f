export { createWebhookRotator, signWebhookBody, SIGNATURE_HEADER, TIMESTAMP_HEADER, WEBHOOK_CONTRACT_VERSION } from './rotator.js';
export type { HttpsPost, WebhookAuth, WebhookRotatorOptions } from './rotator.js';
