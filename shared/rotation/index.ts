export { generateValue, DEFAULT_PASSWORD_ALPHABET } from './generators.js';
