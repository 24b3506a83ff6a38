import { parseArgs } from "node:util";

/** A bad command line: exit code 2. */
export class UsageError extends Error {}

export interface FlagSpec {
  type: "string" | "boolean";
  /** Shown in the help. */
  help: string;
  placeholder?: string;
  default?: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

/** `--api-token` -> `SESSIONLENS_API_TOKEN`. */
export function envName(flag: string): string {
  return `SESSIONLENS_${flag.replace(/-/g, "_").toUpperCase()}`;
}

export interface ParsedCommand {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * Parses flags with node:util's parseArgs, then fills what is missing from
 * `SESSIONLENS_<FLAG_IN_CAPS>` and finally from the defaults. Unknown flags are usage errors.
 */
export function parseCommand(argv: string[], specs: FlagSpecs, env: NodeJS.ProcessEnv, maxPositionals: number): ParsedCommand {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: Object.fromEntries([
        ...Object.entries(specs).map(([name, spec]) => [name, { type: spec.type }] as const),
        ["help", { type: "boolean", short: "h" }] as const,
      ]),
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message.replace(/^TypeError \[\w+\]: /, "") : String(error));
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument "${parsed.positionals[maxPositionals]}"`);
  }
  const values: Record<string, string | boolean | undefined> = { help: parsed.values["help"] === true };
  for (const [name, spec] of Object.entries(specs)) {
    const given = parsed.values[name];
    if (given !== undefined) {
      values[name] = given as string | boolean;
      continue;
    }
    const fromEnv = env[envName(name)];
    if (fromEnv !== undefined && fromEnv !== "") {
      if (spec.type === "boolean") {
        if (!/^(1|true|yes|on|0|false|no|off)$/i.test(fromEnv)) {
          throw new UsageError(`${envName(name)} must be true or false, not "${fromEnv}"`);
        }
        values[name] = /^(1|true|yes|on)$/i.test(fromEnv);
      } else {
        values[name] = fromEnv;
      }
      continue;
    }
    values[name] = spec.type === "boolean" ? false : spec.default;
  }
  return { values, positionals: parsed.positionals };
}

export function describeFlags(specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const left = `  --${name}${spec.type === "string" ? ` ${spec.placeholder ?? "VALUE"}` : ""}`;
    const right = `${spec.help}${spec.default !== undefined ? ` (default ${spec.default})` : ""} [${envName(name)}]`;
    return [left, right] as const;
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => left.padEnd(width) + right).join("\n");
}

export function stringFlag(values: ParsedCommand["values"], name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

/** A comma-separated list flag. */
export function listFlag(values: ParsedCommand["values"], name: string): string[] {
  return (stringFlag(values, name) ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
}
