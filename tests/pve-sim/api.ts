/**
 * The in-process PVE API: route → (duplicate-parameter check, permission check, node proxy check, parameter
 * verification, handler), in the order pve-manager's rest_handler and PVE::RESTHandler::handle apply them.
 * The HTTPS server and the SSH side's `pct` both call through here, as the real `pct` calls PVE's handlers.
 */
import { PveError } from "./errors";
import { makeFormats } from "./formats";
import {
    compileRoutes,
    loadApiSchema,
    matchRoute,
    ParamValidator,
    propertiesFor,
    stringifyParams,
    type ParamValue,
    type Route,
} from "./schema";
import type { SimState } from "./state";

/** A handler's answer with envelope extras (PVE's `total` for task logs, `changes` for network diffs). */
export class Envelope {
    constructor(
        readonly data: unknown,
        readonly extra: { total?: number; changes?: string } = {},
    ) {}
}

export interface HandlerContext {
    sim: SimState;
    /** The acting user: `user@realm`, `user@realm!token`, or "" for unauthenticated (world) calls. */
    user: string;
    /** Verified parameters (path parameters included), all strings. */
    params: Record<string, string>;
}

export type Handler = (ctx: HandlerContext) => unknown;

/** Handlers keyed by `METHOD <path template>` as the schema names them. */
export class HandlerTable {
    private readonly handlers = new Map<string, Handler>();

    on(method: string, template: string, handler: Handler): void {
        this.handlers.set(`${method} ${template}`, handler);
    }

    get(method: string, template: string): Handler | undefined {
        return this.handlers.get(`${method} ${template}`);
    }
}

export interface ApiResult {
    status: number;
    /** PVE's message (errors only), normally ending in "\n". */
    message?: string;
    data: unknown;
    errors?: Record<string, string>;
    total?: number;
    changes?: string;
}

/** `die` texts that are not PveErrors (bugs, backend failures) become 500s like any Perl die. */
function errorResult(error: unknown): ApiResult {
    if (error instanceof PveError) {
        const result: ApiResult = { status: error.status, message: error.message, data: null };
        if (error.errors) result.errors = { ...error.errors };
        return result;
    }
    const message = error instanceof Error ? error.message : String(error);
    return { status: 500, message: message.endsWith("\n") ? message : `${message}\n`, data: null };
}

export class PveApi {
    private readonly routes: Route[];
    private readonly validator: ParamValidator;

    constructor(
        private readonly sim: SimState,
        private readonly handlers: HandlerTable,
    ) {
        this.routes = compileRoutes(loadApiSchema());
        this.validator = new ParamValidator(makeFormats(sim.major));
    }

    /** The verifier, for handlers that parse property strings with PVE's error texts. */
    get paramValidator(): ParamValidator {
        return this.validator;
    }

    /**
     * Calls one API method as `user` (already authenticated; "" for none) with the request's parameters
     * (query over body). `relPath` is the URI-decoded path after `/api2/json`.
     */
    async call(
        method: string,
        relPath: string,
        rawParams: Record<string, ParamValue>,
        user: string,
    ): Promise<ApiResult> {
        const found = matchRoute(this.routes, method, relPath);
        const handler = found && this.handlers.get(method, found.route.template);
        if (!found || !handler) {
            return { status: 501, message: `Method '${method} ${relPath}' not implemented`, data: null };
        }
        try {
            const params: Record<string, ParamValue> = { ...found.pathValues };
            const duplicates: Record<string, string> = {};
            for (const [key, value] of Object.entries(rawParams)) {
                if (found.pathValues[key] !== undefined)
                    duplicates[key] = "duplicate parameter (already defined in URI)";
                else params[key] = value;
            }
            if (Object.keys(duplicates).length > 0)
                throw new PveError(400, "Parameter verification failed.\n", duplicates);

            const info = found.route.info;
            const asStrings = stringifyParams(params);
            this.sim.access.checkApiPermissions(info.permissions, user || undefined, asStrings);

            // Every /nodes/{node}/... method is `proxyto => 'node'`: another node name means a proxy attempt.
            const node = found.pathValues.node;
            if (node !== undefined && node !== this.sim.node && node !== "localhost") {
                throw new PveError(
                    500,
                    `hostname lookup '${node}' failed - failed to get address info for: ${node}: Name or service not known\n`,
                );
            }

            const properties = propertiesFor(info, this.sim.major);
            const errors = this.validator.validate(properties, params, Boolean(info.parameters.additionalProperties));
            if (Object.keys(errors).length > 0) throw new PveError(400, "Parameter verification failed.\n", errors);

            const result = await handler({ sim: this.sim, user, params: asStrings });
            if (result instanceof Envelope) return { status: 200, data: result.data ?? null, ...result.extra };
            return { status: 200, data: result ?? null };
        } catch (error) {
            return errorResult(error);
        }
    }
}
