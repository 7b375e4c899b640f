#!/usr/bin/env node
import { runCli } from './router.js';

const io = { out: (text: string) => process.stdout.write(text), err: (text: string) => process.stderr.write(text) };
process.exitCode = await runCli(process.argv.slice(2), io);
