// ESLint set-up nearest to unleak's rules: typescript-eslint's parser (no type information),
// eslint-plugin-listeners' three rules, and `no-empty` (unleak's silent-error). Linted files
// are passed on the command line; the harness runs ESLint from the corpus folder.
import tsParser from "@typescript-eslint/parser";
import listeners from "eslint-plugin-listeners";

export default [
  {
    files: ["**/*.ts", "**/*.tsx", "**/*.mts", "**/*.cts", "**/*.js", "**/*.mjs", "**/*.cjs", "**/*.jsx"],
    languageOptions: { parser: tsParser, ecmaVersion: "latest", sourceType: "module" },
    linterOptions: { reportUnusedDisableDirectives: "off" },
    plugins: { listeners },
    rules: {
      "listeners/no-missing-remove-event-listener": "error",
      "listeners/matching-remove-event-listener": "error",
      "listeners/no-inline-function-event-listener": "error",
      "no-empty": "error",
    },
  },
];
