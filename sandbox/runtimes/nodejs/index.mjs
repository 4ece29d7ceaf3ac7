// lambdalab's runtime interface client for Node.js.
//
// It plays the part of the client inside Lambda's managed Node.js runtime:
// it talks to the Runtime API at AWS_LAMBDA_RUNTIME_API, loads the handler
// named by _HANDLER (CommonJS or ES module; async, promise-returning or
// callback-style), and loops: fetch the next event, call the handler, post
// its result or its error. Node's standard library only.
//
// What the learner sees (error documents, console lines, the context object)
// copies Lambda's Node.js runtime; reference/lambda-behaviour.md gives the
// wire contract.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import util from 'node:util';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const API_PREFIX = '/2018-06-01/runtime';

// ------------------------------------------------------------------ errors

// Errors the runtime reports itself carry Lambda's "Runtime.*" names.
function runtimeError(name, build) {
  const cls = build ?? class extends Error {};
  Object.defineProperty(cls, 'name', { value: name });
  cls.prototype.name = `Runtime.${name}`;
  return cls;
}

const ImportModuleError = runtimeError('ImportModuleError');
const HandlerNotFound = runtimeError('HandlerNotFound');
const MalformedHandlerName = runtimeError('MalformedHandlerName');
const UserCodeSyntaxError = runtimeError('UserCodeSyntaxError');
const NodeJsExit = runtimeError(
  'NodeJsExit',
  class extends Error {
    constructor() {
      super(
        'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes',
      );
    }
  },
);
const UnhandledPromiseRejection = runtimeError(
  'UnhandledPromiseRejection',
  class extends Error {
    constructor(reason, promise) {
      super(reason);
      this.reason = reason;
      this.promise = promise;
    }
  },
);

function looksLikeError(v) {
  return (
    v &&
    typeof v.name === 'string' &&
    typeof v.message === 'string' &&
    typeof v.stack === 'string' &&
    v.name !== '' &&
    v.message !== '' &&
    v.stack !== ''
  );
}

// The document posted to the Runtime API. Node's shape names the stack
// "trace"; a thrown non-Error is reported by its typeof.
function errorDocument(err) {
  try {
    if (util.types.isNativeError(err) || looksLikeError(err)) {
      return {
        errorType: err.name,
        errorMessage: err.message,
        trace: err.stack.split('\n'),
      };
    }
    return { errorType: typeof err, errorMessage: err.toString(), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

// The log form of an error: its enumerable members plus name, message, code
// and the stack as an array, after a tab.
function errorForLog(err) {
  const expand = (_key, v) => {
    if (!(v instanceof Error)) return v;
    const out = Object.assign(
      { errorType: v.name, errorMessage: v.message, code: v.code },
      v,
    );
    if (typeof v.stack === 'string') out.stack = v.stack.split('\n');
    return out;
  };
  try {
    return '\t' + JSON.stringify(err, expand);
  } catch {
    return '\t' + JSON.stringify(errorDocument(err));
  }
}

function logError(what, err) {
  console.error(what, errorForLog(err instanceof Error ? err : new Error(err)));
}

// ------------------------------------------------------------------ console

let currentRequestId; // undefined until the first event, printed as such

// Lambda's text format: "<ISO time>\t<request id>\t<LEVEL>\t<message>", one
// line per call, with inner newlines turned into carriage returns so that a
// multi-line message stays one log event.
function patchConsole() {
  const levels = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
  const wanted = levels.indexOf(
    (process.env.AWS_LAMBDA_LOG_LEVEL ?? '').toUpperCase(),
  );
  const min = wanted < 0 ? 0 : wanted;
  const writer = (level) => {
    if (levels.indexOf(level) < min) return () => {};
    return (message, ...params) => {
      const line = `${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(message, ...params)}`;
      process.stdout.write(line.replace(/\n/g, '\r') + '\n');
    };
  };
  console.trace = writer('TRACE');
  console.debug = writer('DEBUG');
  console.info = writer('INFO');
  console.log = console.info;
  console.warn = writer('WARN');
  console.error = writer('ERROR');
  console.fatal = writer('FATAL');
}

// ------------------------------------------------------------------ Runtime API

class RuntimeAPI {
  constructor(address) {
    const at = address.lastIndexOf(':');
    this.host = address.slice(0, at);
    this.port = Number(address.slice(at + 1));
    if (at <= 0 || !Number.isInteger(this.port)) {
      throw new Error(`AWS_LAMBDA_RUNTIME_API is "${address}", want host:port`);
    }
    // One kept-alive connection. An idle kept-alive socket does not hold the
    // event loop open, which is what lets 'beforeExit' tell when a callback
    // handler's loop has drained.
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  request(method, urlPath, body, headers, retry = true) {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: this.host,
          port: this.port,
          method,
          path: urlPath,
          agent: this.agent,
          headers,
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode,
              headers: res.headers,
              body: Buffer.concat(chunks),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', (err) => {
        // A kept-alive connection the server closed fails on first use;
        // one fresh connection is worth a try.
        if (retry && req.reusedSocket) {
          this.request(method, urlPath, body, headers, false).then(
            resolve,
            reject,
          );
        } else {
          reject(err);
        }
      });
      req.end(body);
    });
  }

  async next() {
    const res = await this.request('GET', `${API_PREFIX}/invocation/next`);
    if (res.status !== 200) {
      throw new Error(
        `runtime api: /next answered ${res.status}: ${res.body.toString().slice(0, 200)}`,
      );
    }
    return res;
  }

  async post(urlPath, body, headers) {
    const res = await this.request('POST', urlPath, body, {
      'Content-Length': Buffer.byteLength(body),
      ...headers,
    });
    if (res.status >= 500) {
      // The platform says the environment is broken: end here.
      process.stdout.write(
        `runtime api: ${urlPath} answered ${res.status}: ${res.body.toString().slice(0, 200)}\n`,
      );
      process.exit(1);
    }
    // 400 (no longer the current invocation) and 413 (too large) end the
    // invocation on the platform's side; carry on.
    return res.status;
  }

  // Serialises at once, so a result JSON cannot express throws to the caller.
  postResponse(id, result) {
    let body;
    try {
      body = JSON.stringify(result === undefined ? null : result);
    } catch {
      throw new Error('Unable to stringify response body');
    }
    return this.post(
      `${API_PREFIX}/invocation/${encodeURIComponent(id)}/response`,
      body,
      { 'Content-Type': 'application/json' },
    );
  }

  postError(id, err) {
    return this.post(
      `${API_PREFIX}/invocation/${encodeURIComponent(id)}/error`,
      safeStringify(errorDocument(err)),
      { 'Content-Type': 'application/json' },
    );
  }

  postInitError(err) {
    const doc = errorDocument(err);
    return this.post(`${API_PREFIX}/init/error`, safeStringify(doc), {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Function-Error-Type': headerSafe(doc.errorType),
    });
  }
}

function safeStringify(doc) {
  try {
    return JSON.stringify(doc);
  } catch {
    return JSON.stringify({
      errorType: String(doc.errorType),
      errorMessage: String(doc.errorMessage),
      trace: [],
    });
  }
}

// Header values must be plain visible ASCII; an error name is learner data.
function headerSafe(v) {
  const s = String(v ?? '').replace(/[^\x20-\x7e]/g, '?');
  return s === '' ? 'Runtime.Unknown' : s.slice(0, 1024);
}

// ------------------------------------------------------------------ loading

// Is the nearest package.json above dir one with "type": "module"?
function inModulePackage(dir) {
  for (;;) {
    if (dir.endsWith('/node_modules')) return false;
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, 'utf8'))?.type === 'module';
      } catch (err) {
        console.warn(
          `${pj} cannot be read, it will be ignored for ES module detection purposes.`,
          err,
        );
        return false;
      }
    }
    const up = path.dirname(dir);
    if (up === dir) return false;
    dir = up;
  }
}

async function loadModule(appRoot, moduleRoot, name) {
  const base = path.resolve(appRoot, moduleRoot, name);
  const requireIf = (file) => (fs.existsSync(file) ? require(file) : undefined);
  const importIf = async (file) =>
    fs.existsSync(file) ? await import(pathToFileURL(file).href) : undefined;

  // Lambda's order: the bare name, then .js as CommonJS unless the package
  // says "module", then .js as ESM, .mjs, .cjs; last, Node's own resolution
  // from the task root (which also yields Node's "Cannot find module").
  const esm = inModulePackage(path.dirname(base));
  return (
    requireIf(base) ||
    (!esm && requireIf(base + '.js')) ||
    (esm && (await importIf(base + '.js'))) ||
    (await importIf(base + '.mjs')) ||
    requireIf(base + '.cjs') ||
    require(require.resolve(name, { paths: [appRoot, moduleRoot] }))
  );
}

async function loadHandler(appRoot, spec) {
  if (spec.includes('..')) {
    throw new MalformedHandlerName(
      `'${spec}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  // "dir/sub/file.fn" or "file.nested.fn": the directory part, then the file
  // name up to its first dot, then a property path.
  const last = path.basename(spec);
  const moduleRoot = spec.slice(0, spec.length - last.length);
  const dot = last.indexOf('.');
  if (dot < 0) throw new MalformedHandlerName('Bad handler');
  const name = last.slice(0, dot);
  const property = last.slice(dot + 1);

  let mod;
  try {
    mod = await loadModule(appRoot, moduleRoot, name);
  } catch (err) {
    if (err instanceof SyntaxError) throw new UserCodeSyntaxError(err);
    if (err?.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(err);
    throw err;
  }
  const fn = property.split('.').reduce((o, key) => o && o[key], mod);
  if (!fn) throw new HandlerNotFound(`${spec} is undefined or not exported`);
  if (typeof fn !== 'function') throw new HandlerNotFound(`${spec} is not a function`);
  return fn;
}

// ------------------------------------------------------------------ invoking

// The runtime keeps one 'beforeExit' action: Node emits the event when the
// event loop has nothing left to do, which is when a callback handler's
// result may be sent (callbackWaitsForEmptyEventLoop) or when a handler that
// never answered is given up on.
let beforeExit = () => {};
const noop = () => {};

// What to do with an error that escapes everything: during init it is an
// init error, during an invocation that invocation's error.
const fatal = {
  uncaught: (err) => api.postInitError(err).finally(() => process.exit(129)),
  rejection: (err) => api.postInitError(err).finally(() => process.exit(128)),
};

function headerJSON(text, name) {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

function isPromise(v) {
  return v && typeof v.then === 'function';
}

function isAsyncFunction(fn) {
  try {
    return fn?.constructor?.name === 'AsyncFunction';
  } catch {
    return false;
  }
}

// The callback and the callback half of the context for one invocation.
// Only the first of callback/succeed/fail/done counts.
function callbacks(id, scheduleNext) {
  let completed = false;
  let waitForEmptyLoop = true;
  let finished = false;

  const postError = (err) => {
    logError('Invoke Error', err);
    api.postError(id, err).then(scheduleNext, fatal.uncaught);
  };
  const complete = (result) => {
    if (completed) {
      console.error(
        'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
      );
      return;
    }
    completed = true;
    api.postResponse(id, result).then(scheduleNext, fatal.uncaught);
  };

  const callback = (err, result) => {
    beforeExit = noop;
    if (err !== undefined && err !== null) {
      postError(err);
    } else if (!waitForEmptyLoop) {
      complete(result);
    } else {
      beforeExit = () => setImmediate(() => complete(result));
    }
  };
  const done = (err, result) => {
    beforeExit = noop;
    if (err !== undefined && err !== null) postError(err);
    else complete(result);
  };
  const once =
    (fn) =>
    (...args) => {
      if (finished) return;
      fn(...args);
      finished = true;
    };

  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyLoop;
    },
    set callbackWaitsForEmptyEventLoop(v) {
      waitForEmptyLoop = v;
    },
    succeed: once((result) => done(null, result)),
    fail: once((err) => done(err === undefined || err === null ? 'handled' : err, null)),
    done: once(done),
  };
  const markCompleted = () => {
    completed = true;
  };
  return [once(callback), context, markCompleted];
}

let api;

async function invokeOnce(handler, handlerIsAsync) {
  const res = await api.next();
  const h = res.headers;
  const id = h['lambda-runtime-aws-request-id'];
  currentRequestId = id;
  const scheduleNext = () => schedule(handler, handlerIsAsync);
  const [callback, context, markCompleted] = callbacks(id, scheduleNext);

  try {
    fatal.uncaught = (err) => api.postError(id, err).finally(() => process.exit(129));
    fatal.rejection = (err) => api.postError(id, err).finally(() => process.exit(128));

    // A handler that returns without answering: an async one that never
    // settles is an error, a plain one answers null (Lambda's rule).
    beforeExit = () => {
      markCompleted();
      if (handlerIsAsync) {
        const err = new NodeJsExit();
        logError('Invoke Error', err);
        api.postError(id, err).then(scheduleNext, fatal.uncaught);
      } else {
        api.postResponse(id, null).then(scheduleNext, fatal.uncaught);
      }
    };

    const event = JSON.parse(res.body.toString('utf8'));

    if (h['lambda-runtime-trace-id']) {
      process.env._X_AMZN_TRACE_ID = h['lambda-runtime-trace-id'];
    } else {
      delete process.env._X_AMZN_TRACE_ID;
    }
    const deadline = Number(h['lambda-runtime-deadline-ms']);
    Object.assign(context, {
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      clientContext: headerJSON(h['lambda-runtime-client-context'], 'ClientContext'),
      identity: headerJSON(h['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
      invokedFunctionArn: h['lambda-runtime-invoked-function-arn'],
      awsRequestId: id,
      getRemainingTimeInMillis: () => deadline - Date.now(),
    });

    const result = handler(event, context, callback);
    if (isPromise(result)) {
      result.then(context.succeed, context.fail).catch(context.fail);
    }
  } catch (err) {
    callback(err);
  }
}

function schedule(handler, handlerIsAsync) {
  setImmediate(() => {
    invokeOnce(handler, handlerIsAsync).catch((err) => {
      console.log(`Unexpected Top Level Error: ${err.toString()}`);
      fatal.uncaught(err);
    });
  });
}

async function main() {
  patchConsole();
  const address = process.env.AWS_LAMBDA_RUNTIME_API;
  if (!address) {
    process.stderr.write('lambdalab nodejs runtime: AWS_LAMBDA_RUNTIME_API is not set\n');
    process.exit(1);
  }
  api = new RuntimeAPI(address);

  process.on('uncaughtException', (err) => {
    logError('Uncaught Exception', err);
    fatal.uncaught(err);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const err = new UnhandledPromiseRejection(reason, promise);
    logError('Unhandled Promise Rejection', err);
    fatal.rejection(err);
  });
  process.on('beforeExit', () => beforeExit());

  let handler;
  try {
    handler = await loadHandler(
      process.env.LAMBDA_TASK_ROOT || process.cwd(),
      process.env._HANDLER ?? '',
    );
  } catch (err) {
    logError('Uncaught Exception', err);
    await api.postInitError(err).catch(noop);
    process.exit(129);
  }
  schedule(handler, isAsyncFunction(handler));
}

await main();
