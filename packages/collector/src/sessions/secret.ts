import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * The secret that signs resume credentials: the configured one, else the one kept in
 * `<dataDir>/secret` (created once with mode 0600 and reused, so a restarted collector accepts the
 * credentials it issued), else, with no data dir, a random one for this process only.
 */
export async function loadResumeSecret(configured: string | undefined, dataDir: string | null): Promise<string> {
  if (configured !== undefined && configured !== "") return configured;
  if (dataDir === null) return randomBytes(32).toString("base64url");
  const path = join(dataDir, "secret");
  const existing = await readSecret(path);
  if (existing !== null) return existing;
  await mkdir(dataDir, { recursive: true });
  const created = randomBytes(32).toString("base64url");
  try {
    // `wx`: if another process created it meanwhile, use theirs.
    await writeFile(path, `${created}\n`, { mode: 0o600, flag: "wx" });
    return created;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const raced = await readSecret(path);
    if (raced === null) throw new Error(`${path} exists but is empty`);
    return raced;
  }
}

async function readSecret(path: string): Promise<string | null> {
  try {
    const text = (await readFile(path, "utf8")).trim();
    return text === "" ? null : text;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}
