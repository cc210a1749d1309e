/** `npm run engine:install`: build (or find) the Pulumi CLI this project runs on. */
import { ensureEngine } from "./engine";

ensureEngine((line) => console.log(line)).then(
    (r) =>
        console.log(
            `Engine ready (${r.source}): ${r.pulumi}\nDynamic-provider launcher: ${r.binDir}/pulumi-resource-pulumi-nodejs`,
        ),
    (err: unknown) => {
        console.error(`engine:install failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
    },
);
