import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * The collector's layering, said once: data flows socket -> transport/ -> sessions/ -> store/, and
 * is read through query/ by http/ and cli/. Each folder lists the folders it must not import.
 * (test/layering.test.ts proves a violation fails.)
 */
const COLLECTOR = "packages/collector/src";
const layer = (from, forbidden, why, allow = []) => ({
  files: [`${COLLECTOR}/${from}/**/*.ts`],
  rules: {
    "no-restricted-imports": [
      "error",
      {
        patterns: [
          {
            group: [...forbidden.map((folder) => `../${folder}/*`), ...allow.map((path) => `!../${path}`)],
            message: `${from}/ ${why} (layering: transport -> sessions -> store; query -> sessions; http, cli -> query).`,
          },
        ],
      },
    ],
  },
});
const collectorLayers = [
  layer("transport", ["store", "query", "http", "cli", "cluster"], "decodes frames for the session model; it reaches state only through sessions/"),
  layer("sessions", ["transport", "query", "http", "cli", "cluster"], "is the session model: it is called by the transport and read through query/"),
  layer("store", ["sessions", "transport", "query", "http", "cli", "cluster"], "is the persistence port: it knows the session records, nothing else", [
    "sessions/records.js",
  ]),
  layer("query", ["transport", "store", "http", "cli", "cluster"], "reads the session index and change feed of sessions/"),
  layer("http", ["sessions", "store", "transport", "cli", "cluster"], "reads and commands only through query/ and what server.ts hands it"),
  layer("cli", ["sessions", "store", "transport", "http", "query", "cluster"], "talks to a collector over HTTP (client.ts) or starts one (server.ts)"),
  // Several collectors: server.ts puts the cluster view between sessions/ and query/.
  layer("cluster", ["transport", "query", "http", "cli"], "joins this node's sessions/ with what the other nodes keep in store/ (Redis)"),
];

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/coverage/**", "test-artifacts/**", "bench/results/**", "docs-tests/.generated/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { console: "readonly", process: "readonly", URL: "readonly", Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly" },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "@typescript-eslint/no-non-null-assertion": "off",
      "no-control-regex": "off",
      // The agent runs on pages with a strict CSP: no eval in any package.
      "no-eval": "error",
      "no-implied-eval": "error",
      "no-new-func": "error",
    },
  },
  ...collectorLayers,
  {
    // `redis` costs about 200 ms to load, half of the collector's start: only a collector that uses
    // Redis loads it, with import() in store/redis-connection.ts. (A rule of its own, so it adds to
    // the layering rule instead of replacing it.)
    files: [`${COLLECTOR}/**/*.ts`],
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          paths: [
            {
              name: "redis",
              allowTypeImports: true,
              message: "load redis with import() where Redis is configured (store/redis-connection.ts): a collector without Redis must not pay for it at start (a restart listens sooner)",
            },
          ],
        },
      ],
    },
  },
);
