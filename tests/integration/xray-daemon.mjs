// xray-daemon.mjs - a stand-in for the X-Ray daemon: a UDP listener on
// loopback that keeps every datagram the xray-tracing plugin sends and
// checks each against X-Ray's segment document rules, and the helpers the
// tests use to find a trace and rebuild its tree.
//
//   const daemon = await startDaemon();        // daemon.address: 127.0.0.1:PORT
//   ... requests ...
//   const docs = await daemon.waitForTrace(traceId, (docs) => docs.length >= 1);
//   const tree = assemble(docs);                // the segment(s) with every subsegment in place
//
// Rules checked on every document (https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html):
// the datagram's first line is {"format": "json", "version": 1}; id is 16
// hex digits; trace_id is 1-8hex-24hex; name is 1-200 characters of X-Ray's
// set; start_time and end_time are epoch seconds, end >= start, both within
// a minute of now; an independent subsegment has type "subsegment", a
// trace_id and a parent_id; parent_id is 16 hex digits; http, sql and the
// error / throttle / fault flags have the documented types; annotation keys
// are alphanumeric or underscore and values strings, numbers or booleans;
// embedded subsegments obey the same rules and nest within their parent's
// time.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';

import { HOST, waitFor } from './lib.mjs';

export const TRACE_ID = /^1-[0-9a-f]{8}-[0-9a-f]{24}$/;
export const SEGMENT_ID = /^[0-9a-f]{16}$/;
const NAME = /^[\p{L}\p{N}\s_.:/%&#=+\\\-@]{1,200}$/u;
const ANNOTATION_KEY = /^[A-Za-z0-9_]{1,500}$/;
const SLACK_S = 0.002; // start/end times are rounded to the microsecond

function checkTimes(doc, where) {
  const now = Date.now() / 1000;
  assert.equal(typeof doc.start_time, 'number', `${where}: start_time`);
  assert.ok(Math.abs(doc.start_time - now) < 60, `${where}: start_time ${doc.start_time} is not now`);
  assert.equal(doc.in_progress, undefined, `${where}: sent in progress`);
  assert.equal(typeof doc.end_time, 'number', `${where}: end_time`);
  assert.ok(doc.end_time >= doc.start_time, `${where}: ends before it starts`);
}

function checkHttp(http, where) {
  if (http === undefined) return;
  assert.equal(typeof http, 'object', `${where}: http`);
  const rq = http.request;
  if (rq) {
    for (const k of ['method', 'url', 'client_ip', 'user_agent']) {
      if (rq[k] !== undefined) assert.equal(typeof rq[k], 'string', `${where}: http.request.${k}`);
    }
    if (rq.x_forwarded_for !== undefined) assert.equal(typeof rq.x_forwarded_for, 'boolean');
  }
  const rs = http.response;
  if (rs) {
    if (rs.status !== undefined) assert.ok(Number.isInteger(rs.status), `${where}: http.response.status`);
    if (rs.content_length !== undefined) assert.ok(Number.isInteger(rs.content_length), `${where}: content_length`);
  }
}

/** X-Ray's rules for one (sub)segment document and what is embedded in it. */
export function checkDocument(doc, { embedded = false, parent = null } = {}) {
  const where = `${embedded ? 'subsegment' : doc.type || 'segment'} ${doc.name}/${doc.id}`;
  assert.equal(typeof doc, 'object');
  assert.match(doc.id, SEGMENT_ID, `${where}: id`);
  assert.match(doc.name, NAME, `${where}: name`);
  checkTimes(doc, where);
  if (!embedded) {
    assert.match(doc.trace_id, TRACE_ID, `${where}: trace_id`);
    if (doc.type !== undefined) {
      assert.equal(doc.type, 'subsegment', `${where}: type`);
      assert.match(doc.parent_id, SEGMENT_ID, `${where}: an independent subsegment needs parent_id`);
    }
  } else {
    assert.equal(doc.trace_id, undefined, `${where}: an embedded subsegment has no trace_id`);
  }
  if (doc.parent_id !== undefined) assert.match(doc.parent_id, SEGMENT_ID, `${where}: parent_id`);
  for (const flag of ['error', 'throttle', 'fault']) {
    if (doc[flag] !== undefined) assert.equal(typeof doc[flag], 'boolean', `${where}: ${flag}`);
  }
  if (doc.namespace !== undefined) assert.ok(['aws', 'remote'].includes(doc.namespace), `${where}: namespace`);
  checkHttp(doc.http, where);
  if (doc.sql !== undefined) {
    assert.equal(typeof doc.sql.sanitized_query, 'string', `${where}: sql.sanitized_query`);
    assert.ok(['SQLite', 'PostgreSQL'].includes(doc.sql.database_type), `${where}: sql.database_type`);
  }
  if (doc.user !== undefined) assert.equal(typeof doc.user, 'string', `${where}: user`);
  if (doc.annotations !== undefined) {
    for (const [k, v] of Object.entries(doc.annotations)) {
      assert.match(k, ANNOTATION_KEY, `${where}: annotation key ${k}`);
      assert.ok(['string', 'number', 'boolean'].includes(typeof v), `${where}: annotation ${k}`);
    }
  }
  if (parent) {
    assert.ok(doc.start_time >= parent.start_time - SLACK_S, `${where}: starts before its parent`);
    assert.ok(doc.end_time <= parent.end_time + SLACK_S, `${where}: ends after its parent`);
  }
  for (const sub of doc.subsegments || []) checkDocument(sub, { embedded: true, parent: doc });
}

/** Start the listener.  Every datagram is checked as it arrives; a bad one
 * is kept in `errors` (the tests assert it stays empty). */
export async function startDaemon() {
  const socket = dgram.createSocket('udp4');
  const docs = [];
  const errors = [];
  const sizes = [];
  socket.on('message', (msg) => {
    sizes.push(msg.length);
    const text = msg.toString('utf8');
    const nl = text.indexOf('\n');
    try {
      assert.ok(nl > 0, 'no header line');
      assert.deepEqual(JSON.parse(text.slice(0, nl)), { format: 'json', version: 1 });
      const doc = JSON.parse(text.slice(nl + 1));
      checkDocument(doc);
      docs.push(doc);
    } catch (e) {
      errors.push(`${e.message}\n${text.slice(0, 500)}`);
    }
  });
  await new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, HOST, resolve);
  });
  const port = socket.address().port;
  return {
    port,
    address: `${HOST}:${port}`,
    docs,
    errors,
    sizes,
    /** Documents of `traceId`, once `done(docs)` holds (bounded wait). */
    waitForTrace: (traceId, done = (d) => d.length > 0, timeoutMs = 3000) =>
      waitFor(() => {
        const mine = docs.filter((d) => d.trace_id === traceId);
        return done(mine) ? mine : null;
      }, { timeoutMs, what: `documents of trace ${traceId}` }),
    close: () => new Promise((resolve) => socket.close(resolve)),
  };
}

/** Rebuild the trees of one trace: independent subsegments go back under
 * their parent; returns the segments (each with every subsegment nested). */
export function assemble(docs) {
  const byId = new Map();
  const copy = docs.map((d) => structuredClone(d));
  const visit = (d) => {
    byId.set(d.id, d);
    for (const s of d.subsegments || []) visit(s);
  };
  copy.forEach(visit);
  const segments = [];
  for (const d of copy) {
    if (d.type === 'subsegment') {
      const parent = byId.get(d.parent_id);
      assert.ok(parent, `subsegment ${d.id}: parent ${d.parent_id} never arrived`);
      const { type, trace_id: traceId, parent_id: parentId, ...rest } = d;
      parent.subsegments = [...(parent.subsegments || []), rest];
      byId.set(d.id, rest);
    } else {
      segments.push(d);
    }
  }
  return segments;
}

/** Every subsegment of `doc`, depth first, with its parent's id. */
export function flatten(doc, parentId = null, out = []) {
  for (const s of doc.subsegments || []) {
    out.push({ ...s, parentId: doc.id });
    flatten(s, doc.id, out);
  }
  return out;
}
