// Runs pipeline.asl.json in aws-local-stepfunctions (an independent ASL interpreter) with
// every Task state bound to an HTTP endpoint of the Go test, which calls the real handler.
// Usage: node run.mjs ASL_FILE INPUT_JSON HANDLER_URL
// Prints one JSON line per execution event, then {"type":"Result",...} or {"type":"Failed",...}.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(process.env.STEPLINE_NODE_MODULES + '/');
const { StateMachine } = require('aws-local-stepfunctions');

const [file, input, url] = process.argv.slice(2);
let text = readFileSync(file, 'utf8');
for (const name of ['AdvanceFunctionArn', 'SourceFunctionArn', 'WaitFunctionArn']) {
  text = text.replaceAll('${' + name + '}', 'arn:aws:lambda:us-east-1:123456789012:function:stepline-' + name);
}
const definition = JSON.parse(text);

// Every Task state, at any depth, is bound by name to POST URL/<state>.
const handlers = {};
const bind = (states) => {
  for (const [name, st] of Object.entries(states)) {
    if (st.Type === 'Task') {
      handlers[name] = async (payload) => {
        const res = await fetch(url + '/' + name, { method: 'POST', body: JSON.stringify(payload) });
        if (res.headers.get('x-stepline-abort')) {
          // The Go handler asked for StopExecution while this task runs: the task never
          // answers, the execution ends aborted.
          execution.abort();
          return new Promise(() => {});
        }
        const body = await res.json();
        if (res.status !== 200) {
          const err = new Error(body.errorMessage);
          err.name = body.errorType;
          throw err;
        }
        return body;
      };
    }
    // Node's timers hold at most 2^31-1 ms (24.8 days); a longer TimeoutSeconds (Park's year)
    // would fire at once. Clamp it: no test waits that long.
    if (st.TimeoutSeconds > 2147483) st.TimeoutSeconds = 2147483;
    if (st.ItemProcessor) bind(st.ItemProcessor.States);
  }
};
bind(definition.States);

const machine = new StateMachine(definition, { validationOptions: { checkPaths: true, checkArn: false } });
// let: the task handlers above read it once a task runs.
let execution;
execution = machine.run(JSON.parse(input), {
  overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides: { Sleep: 1 }, retryIntervalOverrides: Object.fromEntries(Object.keys(handlers).map((n) => [n, 1])) },
  // The interpreter has no task tokens of its own; one token per run stands in for $$.Task.Token.
  context: { Execution: { Id: 'local', Name: 'local' }, Task: { Token: 'token-' + (JSON.parse(input).run ?? 'none') } },
});
for await (const event of execution.eventLogs) {
  console.log(JSON.stringify(event));
}
try {
  console.log(JSON.stringify({ type: 'Result', output: await execution.result }));
} catch (e) {
  // The interpreter wraps the Fail state's error in an ExecutionError.
  const failed = e.cause instanceof Error ? e.cause : e;
  console.log(JSON.stringify({ type: 'Failed', error: failed.name, cause: failed.message }));
  // An aborted execution leaves the interpreter's timers behind, which would keep Node
  // running; stdout is a pipe, written synchronously on Linux, so nothing is lost.
  if (failed.name === 'ExecutionAbortedError') process.exit(0);
}
