#!/usr/bin/env node
// Thin shim: the command lives in dist/cli (built with `pnpm --filter @sessionlens/collector build`).
import { main } from "../dist/cli/index.js";

process.exitCode = await main(process.argv.slice(2));
