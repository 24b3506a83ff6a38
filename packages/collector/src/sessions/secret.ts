import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { mkdir, open as openFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * The secret that signs resume credentials: the configured one, else the one kept in
 * `<dataDir>/secret` (created once with mode 0600 and reused, so a restarted collector accepts the
 * credentials it issued), else, with no data dir, a random one for this process only.
 * Like ssh with a private key, a secret file that is a symbolic link or that group or others may
 * read is refused (`InsecureSecretFile`): anyone who reads it can forge resume credentials.
 */
export async function loadResumeSecret(configured: string | undefined, dataDir: string | null): Promise<string> {
  if (configured !== undefined && configured !== "") return configured;
  if (dataDir === null) return randomBytes(32).toString("base64url");
  const path = join(dataDir, "secret");
  const existing = await readSecret(path);
  if (existing !== null) return existing;
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
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

/** A secret file the collector refuses to use; the message says why and how to fix it. */
export class InsecureSecretFile extends Error {
  readonly code = "insecure_secret_file";
}

async function readSecret(path: string): Promise<string | null> {
  let handle;
  try {
    // O_NOFOLLOW: a link is refused (ELOOP) instead of being read through.
    handle = await openFile(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    if (code === "ELOOP") {
      throw new InsecureSecretFile(`${path} is a symbolic link; refusing to use it as the resume secret (replace it with a regular file of mode 0600, or pass --secret)`);
    }
    throw error;
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new InsecureSecretFile(`${path} is not a regular file; refusing to use it as the resume secret`);
    if (process.platform !== "win32" && (stats.mode & 0o077) !== 0) {
      const mode = (stats.mode & 0o777).toString(8).padStart(4, "0");
      throw new InsecureSecretFile(
        `${path} has mode ${mode}: group or others may read the resume secret; refusing to use it (run \`chmod 600 ${path}\`)`,
      );
    }
    const text = (await handle.readFile("utf8")).trim();
    return text === "" ? null : text;
  } finally {
    await handle.close();
  }
}
