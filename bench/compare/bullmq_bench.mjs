// bullmq_bench.mjs -- the BullMQ side of bench/compare.sh: one process with
// a Queue that adds N jobs and one Worker (concurrency 64) whose processor
// makes the same chat completion call a fleetq code worker makes, to the
// same stand-in server, and returns the answer's content.
//
//   node bullmq_bench.mjs REDIS_PORT BASE_URL N READY_FILE RESULT_FILE
//
// It must sit next to a node_modules holding bullmq and ioredis (compare.sh
// copies it into the directory it installed them in). Once the queue and
// the worker are connected it writes READY_FILE and waits for SIGUSR1; then
// it adds the N jobs with Queue.addBulk in chunks of 1000 and counts the
// worker's 'completed' (and 'failed') events. When all N have ended it
// writes "COMPLETED FAILED SECONDS" to RESULT_FILE, SECONDS from just
// before the first add, and stays up (so that compare.sh can read its
// /proc figures) until SIGTERM, when it closes the worker and the queue.
// The key comes from XAI_API_KEY, as a fleetq worker's does.
import fs from 'node:fs';
import http from 'node:http';
import { Queue, Worker } from 'bullmq';

const [redisPort, baseUrl, nArg, readyFile, resultFile] = process.argv.slice(2);
const n = Number(nArg);
if (!redisPort || !baseUrl || !Number.isInteger(n) || n <= 0 || !readyFile || !resultFile) {
    console.error('usage: node bullmq_bench.mjs REDIS_PORT BASE_URL N READY_FILE RESULT_FILE');
    process.exit(2);
}
const chunk = 1000;
const queueName = 'bench';
// options object: BullMQ makes its own ioredis connections from it
const connection = { host: '127.0.0.1', port: Number(redisPort), maxRetriesPerRequest: null };
// what a fleetq code worker sends (its role's model, system text, max_tokens)
const model = 'grok-code-fast-1';
const system = 'You are a senior software engineer. Write correct, clear, tested code; ' +
    'explain briefly what you changed and why.';
const url = new URL(baseUrl.replace(/\/$/, '') + '/chat/completions');
const key = process.env.XAI_API_KEY || '';
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

// POSTs one chat completion request and resolves to the parsed reply
function chat(prompt) {
    const body = JSON.stringify({
        model,
        messages: [{ role: 'system', content: system }, { role: 'user', content: prompt }],
        max_tokens: 500,
        stream: false,
    });
    return new Promise((resolve, reject) => {
        const req = http.request({
            agent,
            host: url.hostname,
            port: url.port,
            path: url.pathname,
            method: 'POST',
            headers: {
                'Content-Type': 'application/json',
                'Content-Length': Buffer.byteLength(body),
                Authorization: `Bearer ${key}`,
            },
        }, (res) => {
            const parts = [];
            res.on('data', (c) => parts.push(c));
            res.on('error', reject);
            res.on('end', () => {
                if (res.statusCode !== 200) {
                    reject(new Error(`HTTP ${res.statusCode}`));
                    return;
                }
                try {
                    resolve(JSON.parse(Buffer.concat(parts).toString('utf8')));
                } catch (e) {
                    reject(e);
                }
            });
        });
        req.setTimeout(90000, () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end(body);
    });
}

const queue = new Queue(queueName, { connection });
const worker = new Worker(queueName, async (job) => {
    const reply = await chat(job.data.prompt);
    const content = reply?.choices?.[0]?.message?.content;
    if (typeof content !== 'string') throw new Error('no content in the reply');
    return content;
}, { connection, concurrency: 64 });

let completed = 0;
let failed = 0;
let firstError = '';
let t0 = 0n;
let reported = false;
function ended() {
    if (reported || completed + failed < n) return;
    reported = true;
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    fs.writeFileSync(resultFile, `${completed} ${failed} ${seconds.toFixed(6)}\n`);
    if (failed > 0) console.error(`bullmq_bench: ${failed} jobs failed, first: ${firstError}`);
}
worker.on('completed', () => { completed++; ended(); });
worker.on('failed', (_job, err) => {
    failed++;
    if (!firstError) firstError = String(err?.message ?? err);
    ended();
});
worker.on('error', (err) => console.error(`bullmq_bench: worker error: ${err?.message ?? err}`));
queue.on('error', (err) => console.error(`bullmq_bench: queue error: ${err?.message ?? err}`));

async function addAll() {
    t0 = process.hrtime.bigint();
    for (let first = 0; first < n; first += chunk) {
        const jobs = [];
        for (let i = first; i < Math.min(first + chunk, n); i++) {
            jobs.push({
                name: 'chat',
                data: { prompt: `benchmark task ${i}` },
                opts: { removeOnComplete: true, removeOnFail: 1000 },
            });
        }
        await queue.addBulk(jobs);
    }
}

let stopping = false;
async function stop() {
    if (stopping) return;
    stopping = true;
    try {
        await worker.close();
        await queue.close();
    } finally {
        agent.destroy();
        process.exit(0);
    }
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.once('SIGUSR1', () => {
    addAll().catch((e) => {
        console.error(`bullmq_bench: adding jobs failed: ${e?.message ?? e}`);
        process.exit(1);
    });
});

await queue.waitUntilReady();
await worker.waitUntilReady();
fs.writeFileSync(readyFile, `${process.pid}\n`);
