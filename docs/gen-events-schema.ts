// Regenerates docs/events.schema.json: npx tsx docs/gen-events-schema.ts > docs/events.schema.json
import { rotationEventJsonSchema } from '../shared/domain/rotationEvents.js';

process.stdout.write(`${JSON.stringify(rotationEventJsonSchema(), null, 2)}\n`);
