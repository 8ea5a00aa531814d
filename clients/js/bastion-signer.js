/*
 * Bastion request signer for JavaScript: WeChat / Alipay / Douyin mini programs, browsers and
 * Node.js. No dependencies and no WebCrypto (mini programs lack it): SHA-256 and HMAC-SHA256
 * are implemented here (FIPS 180-4, RFC 2104) and tested against the NIST examples, the
 * Wycheproof HMAC-SHA256 vectors and Node's crypto module.
 *
 * It produces exactly what the Python signer (bastion.signing.sign_request) produces: the
 * Content-Digest (RFC 9530, sha-256), Signature-Input and Signature (RFC 9421) headers for
 * HMAC-SHA256 over the canonical request described in docs/signing.md.
 *
 * CommonJS (require) and a browser/mini-program global (BastionSigner); an ES module wrapper
 * is bastion-signer.mjs.
 */
(function (root, factory) {
  'use strict';
  var api = factory();
  if (typeof module === 'object' && module.exports) {
    module.exports = api;
  } else {
    root.BastionSigner = api;
  }
})(typeof globalThis !== 'undefined' ? globalThis : this, function () {
  'use strict';

  // ---- SHA-256 (FIPS 180-4) ---------------------------------------------------------------

  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);
  var H0 = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
  ];

  function rotr(x, n) {
    return (x >>> n) | (x << (32 - n));
  }

  /** SHA-256 of a Uint8Array; returns 32 bytes. */
  function sha256(bytes) {
    var length = bytes.length;
    var total = Math.ceil((length + 9) / 64) * 64; // message + 0x80 + 64-bit length, padded
    var block = new Uint8Array(total);
    block.set(bytes);
    block[length] = 0x80;
    var view = new DataView(block.buffer);
    view.setUint32(total - 8, Math.floor(length / 0x20000000)); // high bits of the bit length
    view.setUint32(total - 4, (length * 8) >>> 0);
    var h = new Uint32Array(H0);
    var w = new Uint32Array(64);
    for (var offset = 0; offset < total; offset += 64) {
      for (var t = 0; t < 16; t++) w[t] = view.getUint32(offset + 4 * t);
      for (t = 16; t < 64; t++) {
        var s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >>> 3);
        var s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >>> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1; // Uint32Array keeps it modulo 2^32
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
      for (t = 0; t < 64; t++) {
        var bigS1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        var ch = (e & f) ^ (~e & g);
        var t1 = (hh + bigS1 + ch + K[t] + w[t]) >>> 0;
        var bigS0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        var maj = (a & b) ^ (a & c) ^ (b & c);
        var t2 = (bigS0 + maj) >>> 0;
        hh = g; g = f; f = e; e = (d + t1) >>> 0;
        d = c; c = b; b = a; a = (t1 + t2) >>> 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d;
      h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
    }
    var out = new Uint8Array(32);
    var outView = new DataView(out.buffer);
    for (var i = 0; i < 8; i++) outView.setUint32(4 * i, h[i]);
    return out;
  }

  // ---- HMAC-SHA256 (RFC 2104) -------------------------------------------------------------

  /** HMAC-SHA256 of message under key (both Uint8Array); returns 32 bytes. */
  function hmacSha256(key, message) {
    if (key.length > 64) key = sha256(key);
    var inner = new Uint8Array(64 + message.length);
    var outer = new Uint8Array(64 + 32);
    for (var i = 0; i < 64; i++) {
      var k = i < key.length ? key[i] : 0;
      inner[i] = k ^ 0x36;
      outer[i] = k ^ 0x5c;
    }
    inner.set(message, 64);
    outer.set(sha256(inner), 64);
    return sha256(outer);
  }

  // ---- text and base64 --------------------------------------------------------------------

  /** UTF-8 bytes of a string (a lone surrogate becomes U+FFFD, as TextEncoder does). */
  function utf8Encode(text) {
    var out = [];
    for (var i = 0; i < text.length; i++) {
      var c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        var next = text.charCodeAt(i + 1);
        if (next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else {
        out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      }
    }
    return new Uint8Array(out);
  }

  var ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

  /** Standard base64 with padding (what sf-binary fields carry). */
  function base64Encode(bytes) {
    var out = '';
    for (var i = 0; i < bytes.length; i += 3) {
      var n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
      out += ALPHABET[(n >> 18) & 63] + ALPHABET[(n >> 12) & 63];
      out += i + 1 < bytes.length ? ALPHABET[(n >> 6) & 63] : '=';
      out += i + 2 < bytes.length ? ALPHABET[n & 63] : '=';
    }
    return out;
  }

  /** Bytes of base64url (or standard base64) text, padding optional; throws on bad input. */
  function base64UrlDecode(text) {
    var clean = text.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
    if (!/^[A-Za-z0-9+/]*$/.test(clean) || clean.length % 4 === 1) {
      throw new Error('not base64url text');
    }
    var out = [];
    var bits = 0;
    var value = 0;
    for (var i = 0; i < clean.length; i++) {
      value = (value << 6) | ALPHABET.indexOf(clean[i]);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push((value >> bits) & 255);
      }
    }
    return new Uint8Array(out);
  }

  /** base64url without padding of bytes (the nonce form). */
  function nonceFromBytes(bytes) {
    if (bytes.length < 16) throw new Error('a nonce needs at least 16 random bytes');
    return base64Encode(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  // ---- the canonical request --------------------------------------------------------------

  var REQUIRED = ['@method', '@path', '@query', 'content-digest'];
  var ALG = 'hmac-sha256';

  function toBytes(body) {
    if (body === undefined || body === null) return new Uint8Array(0);
    if (typeof body === 'string') return utf8Encode(body);
    if (body instanceof Uint8Array) return body;
    if (body instanceof ArrayBuffer) return new Uint8Array(body);
    throw new Error('body must be a string, Uint8Array or ArrayBuffer');
  }

  /** Content-Digest value of a body: sha-256=:<base64>: */
  function contentDigest(body) {
    return 'sha-256=:' + base64Encode(sha256(toBytes(body))) + ':';
  }

  /** '?' plus the &-separated parameters stably sorted by name (bytes before the first '='). */
  function canonicalQuery(query) {
    if (!query) return '?';
    var params = query.split('&').map(function (p, i) {
      var eq = p.indexOf('=');
      return { name: eq < 0 ? p : p.slice(0, eq), index: i, text: p };
    });
    params.sort(function (x, y) {
      if (x.name < y.name) return -1;
      if (x.name > y.name) return 1;
      return x.index - y.index;
    });
    return '?' + params.map(function (p) { return p.text; }).join('&');
  }

  /** Header fields by lower-case name; arrays and repeats joined with ', ', values trimmed. */
  function combineHeaders(headers) {
    var out = {};
    Object.keys(headers || {}).forEach(function (name) {
      var raw = headers[name];
      var values = Array.isArray(raw) ? raw : [raw];
      values.forEach(function (v) {
        var value = String(v).replace(/^[ \t]+|[ \t]+$/g, '');
        var key = name.toLowerCase();
        out[key] = key in out ? out[key] + ', ' + value : value;
      });
    });
    return out;
  }

  function checkValue(value) {
    if (!/^[\x20-\x7e]*$/.test(value)) throw new Error('a covered value holds a bad character');
    return value;
  }

  function sfString(text) {
    return '"' + checkValue(text).replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
  }

  /** The Signature-Input member value: ("c1" "c2" ...);created=..;nonce="..";keyid="..";alg=".." */
  function signatureParams(components, created, nonce, keyId) {
    if (!(Number.isInteger(created) && created >= 0)) throw new Error('created must be an integer');
    return '(' + components.map(sfString).join(' ') + ')' + ';created=' + created +
      ';nonce=' + sfString(nonce) + ';keyid=' + sfString(keyId) + ';alg="' + ALG + '"';
  }

  /** The signature base (the exact text the HMAC covers). */
  function signatureBase(request, components, params) {
    var lines = components.map(function (name) {
      var value;
      if (name === '@method') value = request.method;
      else if (name === '@path') value = request.path || '/';
      else if (name === '@query') value = canonicalQuery(request.query);
      else if (name in request.headers) value = request.headers[name];
      else throw new Error('covered header ' + name + ' is absent');
      return '"' + name + '": ' + checkValue(value);
    });
    lines.push('"@signature-params": ' + params);
    return lines.join('\n');
  }

  /** Split '/p?q', 'https://host/p?q#f' into the raw path and query (without '?'). */
  function splitUrl(url) {
    var rest = url.replace(/#.*$/, '');
    var scheme = rest.match(/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?]*/);
    if (scheme) rest = rest.slice(scheme[0].length);
    var q = rest.indexOf('?');
    return { path: (q < 0 ? rest : rest.slice(0, q)) || '/', query: q < 0 ? '' : rest.slice(q + 1) };
  }

  function defaultRandomBytes(n) {
    var c = typeof globalThis !== 'undefined' ? globalThis.crypto : undefined;
    if (c && typeof c.getRandomValues === 'function') return c.getRandomValues(new Uint8Array(n));
    throw new Error('no synchronous random source: pass nonce (see wxNonce) or randomBytes');
  }

  /**
   * Sign a request. options: keyId, secret (base64url text as returned at login, or bytes),
   * method, url (or path + query, raw and percent-encoded, query without '?'), headers,
   * body (string, Uint8Array or ArrayBuffer; send exactly these bytes), created (Unix
   * seconds) or clock (() => milliseconds, default Date.now), nonce or randomBytes
   * ((n) => Uint8Array, default crypto.getRandomValues), label ('sig1'), extra (more header
   * names to cover). Returns { 'Content-Digest', 'Signature-Input', 'Signature' }.
   */
  function signRequest(options) {
    var parts = options.url !== undefined ? splitUrl(options.url) : options;
    var headers = combineHeaders(options.headers);
    var body = toBytes(options.body);
    headers['content-digest'] = contentDigest(body);
    var components = REQUIRED.slice();
    if ('content-type' in headers) components.push('content-type');
    (options.extra || []).forEach(function (name) { components.push(name.toLowerCase()); });
    var created = options.created !== undefined ? options.created
      : Math.floor((options.clock || Date.now)() / 1000);
    var nonce = options.nonce || nonceFromBytes((options.randomBytes || defaultRandomBytes)(16));
    var params = signatureParams(components, created, nonce, options.keyId);
    var request = {
      method: String(options.method).toUpperCase(), path: parts.path || '/', query: parts.query || '',
      headers: headers
    };
    var secret = typeof options.secret === 'string' ? base64UrlDecode(options.secret) : options.secret;
    var mac = hmacSha256(secret, utf8Encode(signatureBase(request, components, params)));
    var label = options.label || 'sig1';
    return {
      'Content-Digest': headers['content-digest'],
      'Signature-Input': label + '=' + params,
      'Signature': label + '=:' + base64Encode(mac) + ':'
    };
  }

  /** A nonce from wx.getRandomValues (WeChat; asynchronous): resolves to 22 base64url chars. */
  function wxNonce(wxApi) {
    var api = wxApi || (typeof wx !== 'undefined' ? wx : undefined); // eslint-disable-line no-undef
    return new Promise(function (resolve, reject) {
      if (!api || typeof api.getRandomValues !== 'function') {
        reject(new Error('wx.getRandomValues is not available'));
        return;
      }
      api.getRandomValues({
        length: 16,
        success: function (res) { resolve(nonceFromBytes(new Uint8Array(res.randomValues))); },
        fail: function (err) { reject(new Error('wx.getRandomValues failed: ' + (err && err.errMsg))); }
      });
    });
  }

  return {
    sha256: sha256,
    hmacSha256: hmacSha256,
    utf8Encode: utf8Encode,
    base64Encode: base64Encode,
    base64UrlDecode: base64UrlDecode,
    nonceFromBytes: nonceFromBytes,
    contentDigest: contentDigest,
    canonicalQuery: canonicalQuery,
    combineHeaders: combineHeaders,
    signatureBase: signatureBase,
    signRequest: signRequest,
    splitUrl: splitUrl,
    wxNonce: wxNonce
  };
});
