'use strict';
// node --test: the signer against the shared signing vectors (also checked by the Python
// signer), NIST SHA-256 examples, Wycheproof HMAC-SHA256 and Node's own crypto.
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const signer = require('../bastion-signer.js');

const vectors = JSON.parse(fs.readFileSync(path.join(__dirname, 'vectors.json'), 'utf8'));
const hex = (bytes) => Buffer.from(bytes).toString('hex');
const fromHex = (text) => new Uint8Array(Buffer.from(text, 'hex'));

// The shared data folder sits next to the repository; BASTION_SHARED_DATA overrides it.
const sharedData = process.env.BASTION_SHARED_DATA ||
  path.resolve(__dirname, '..', '..', '..', '..', 'shared', 'data');

for (const v of vectors.sha256) {
  test(`SHA-256 NIST example: ${v.name}`, () => {
    assert.equal(hex(signer.sha256(signer.utf8Encode(v.ascii.repeat(v.repeat)))), v.digest);
  });
}

test('SHA-256 and HMAC-SHA256 equal Node crypto on random inputs', () => {
  for (let i = 0; i < 300; i++) {
    const message = crypto.randomBytes(crypto.randomInt(0, 300));
    const key = crypto.randomBytes(crypto.randomInt(0, 150));
    assert.equal(hex(signer.sha256(message)), crypto.createHash('sha256').update(message).digest('hex'));
    assert.equal(
      hex(signer.hmacSha256(key, message)),
      crypto.createHmac('sha256', key).update(message).digest('hex')
    );
  }
});

test('HMAC-SHA256 Wycheproof vectors', (t) => {
  const file = path.join(sharedData, 'wycheproof', 'hmac_sha256_test.json');
  if (!fs.existsSync(file)) {
    if (process.env.CI === 'true') assert.fail(`Wycheproof vectors missing at ${file}`);
    t.skip(`Wycheproof vectors not found at ${file} (set BASTION_SHARED_DATA)`);
    return;
  }
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  let checked = 0;
  for (const group of doc.testGroups) {
    for (const c of group.tests) {
      const tag = hex(signer.hmacSha256(fromHex(c.key), fromHex(c.msg))).slice(0, group.tagSize / 4);
      assert.equal(tag === c.tag, c.result === 'valid', `tcId ${c.tcId}`);
      checked++;
    }
  }
  assert.equal(checked, doc.numberOfTests);
});

test('UTF-8 encoding equals Buffer.from on random strings (surrogates included)', () => {
  for (let i = 0; i < 500; i++) {
    let text = '';
    for (let j = crypto.randomInt(0, 20); j > 0; j--) text += String.fromCharCode(crypto.randomInt(0, 0x10000));
    assert.equal(hex(signer.utf8Encode(text)), Buffer.from(text, 'utf8').toString('hex'));
  }
});

test('base64 encoding and base64url decoding round-trip', () => {
  for (let n = 0; n < 70; n++) {
    const bytes = crypto.randomBytes(n);
    assert.equal(signer.base64Encode(bytes), bytes.toString('base64'));
    assert.equal(hex(signer.base64UrlDecode(bytes.toString('base64url'))), hex(bytes));
  }
  assert.throws(() => signer.base64UrlDecode('a*b'));
});

for (const v of vectors.signing) {
  test(`signing vector: ${v.name}`, () => {
    const options = {
      keyId: v.key_id, secret: v.secret, method: v.method, path: v.path, query: v.query,
      headers: v.headers, body: v.body, created: v.created, nonce: v.nonce, label: v.label,
      extra: v.extra
    };
    const headers = signer.signRequest(options);
    assert.equal(headers['Content-Digest'], v.expected.content_digest);
    assert.equal(headers['Signature-Input'], v.expected.signature_input);
    assert.equal(headers['Signature'], v.expected.signature);
    const all = signer.combineHeaders(Object.assign({}, v.headers, { 'Content-Digest': headers['Content-Digest'] }));
    const params = headers['Signature-Input'].slice(v.label.length + 1);
    const components = params.slice(1, params.indexOf(')')).split(' ').map((c) => JSON.parse(c));
    const request = { method: v.method, path: v.path, query: v.query, headers: all };
    assert.equal(signer.signatureBase(request, components, params), v.expected.signature_base);
    // The same request given as a full URL signs the same.
    const url = `https://api.example.com${v.path}${v.query ? '?' + v.query : ''}#frag`;
    const viaUrl = signer.signRequest(Object.assign({}, options, { path: undefined, query: undefined, url }));
    assert.equal(viaUrl['Signature'], v.expected.signature);
  });
}

test('clock and nonce source are parameters', () => {
  const v = vectors.signing[0];
  const bytes = new Uint8Array(16).fill(7);
  const headers = signer.signRequest({
    keyId: v.key_id, secret: v.secret, method: 'GET', path: '/x',
    clock: () => 1700000123999, randomBytes: (n) => bytes.slice(0, n)
  });
  assert.match(headers['Signature-Input'], /;created=1700000123;nonce="BwcHBwcHBwcHBwcHBwcHBw";/);
  assert.throws(() => signer.nonceFromBytes(new Uint8Array(8)), /16 random bytes/);
});

test('default nonces come from crypto.getRandomValues and differ', () => {
  const v = vectors.signing[0];
  const sign = () => signer.signRequest({ keyId: v.key_id, secret: v.secret, method: 'GET', path: '/' });
  assert.notEqual(sign()['Signature-Input'], sign()['Signature-Input']);
});

test('wxNonce uses wx.getRandomValues', async () => {
  const fakeWx = {
    getRandomValues: ({ length, success }) => success({ randomValues: new Uint8Array(length).fill(1).buffer })
  };
  assert.equal(await signer.wxNonce(fakeWx), 'AQEBAQEBAQEBAQEBAQEBAQ');
  await assert.rejects(signer.wxNonce({}), /not available/);
});

test('a covered value with a control character is refused', () => {
  const v = vectors.signing[0];
  assert.throws(() => signer.signRequest({
    keyId: v.key_id, secret: v.secret, method: 'GET', path: '/', headers: { 'Content-Type': 'a\u0001b' }
  }), /bad character/);
});

test('the ES module exports the same functions', async () => {
  const esm = await import('../bastion-signer.mjs');
  assert.equal(esm.signRequest, signer.signRequest);
  assert.equal(esm.default, signer);
});
