// Minimal declarations of the packages the legacy service imports: enough for `tsc --noEmit`
// to check the service's own code (and the fixes unleak applies to it), not the packages.
declare module 'ws' {
  import { EventEmitter } from 'node:events';
  class WebSocket extends EventEmitter {
    static readonly CONNECTING: number;
    static readonly OPEN: number;
    static readonly CLOSING: number;
    static readonly CLOSED: number;
    constructor(url: string, options?: Record<string, unknown>);
    readonly readyState: number;
    send(data: unknown, cb?: (err?: Error) => void): void;
    ping(data?: unknown): void;
    close(code?: number, reason?: string): void;
    terminate(): void;
  }
  namespace WebSocket {
    type RawData = Buffer | ArrayBuffer | Buffer[];
  }
  export class WebSocketServer extends EventEmitter {
    constructor(options: Record<string, unknown>, callback?: () => void);
    clients: Set<WebSocket>;
    close(cb?: (err?: Error) => void): void;
    handleUpgrade(req: unknown, socket: unknown, head: Buffer, cb: (ws: WebSocket) => void): void;
  }
  export type RawData = WebSocket.RawData;
  export { WebSocket };
  export default WebSocket;
}
declare module 'openai' {
  /** A resource or method of the API: `openai.chat.completions.create(…)` resolves to `any`. */
  interface Api {
    (...args: any[]): Promise<any>;
    [member: string]: Api;
  }
  class OpenAI {
    constructor(options?: Record<string, unknown>);
    /** Every resource (`chat`, `audio`, `moderations`, `embeddings`, …). */
    [resource: string]: Api;
  }
  export function toFile(data: unknown, name?: string, options?: Record<string, unknown>): Promise<any>;
  namespace OpenAI {
    namespace Chat {
      type ChatCompletionMessageParam = any;
      type ChatCompletion = any;
    }
    type ChatCompletionMessageParam = any;
  }
  export default OpenAI;
}
declare module 'openai/resources/chat/completions' {
  export type ChatCompletionMessageParam = any;
  export type ChatCompletion = any;
  export type ChatCompletionTool = any;
}
declare module 'express' {
  function express(): any;
  namespace express {
    function Router(): any;
    type Router = any;
    function json(options?: unknown): any;
    function urlencoded(options?: unknown): any;
    type Request = any;
    type Response = any;
    type NextFunction = any;
    type Express = any;
  }
  export = express;
}
declare module 'twilio' {
  function twilio(sid?: string, token?: string): any;
  namespace twilio {
    const twiml: any;
  }
  export = twilio;
}
declare module 'node-cache' {
  class NodeCache {
    constructor(options?: Record<string, unknown>);
    get<T>(key: string): T | undefined;
    set<T>(key: string, value: T, ttl?: number): boolean;
    del(key: string | string[]): number;
    keys(): string[];
    flushAll(): void;
    close(): void;
  }
  export = NodeCache;
}
