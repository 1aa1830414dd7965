// The landing page's script. CFG (set just before this file) holds the download URL when no
// bot check is needed, else the ALTCHA challenge and/or the Turnstile settings.
(function () {
  'use strict';

  // sha256Hex is a small pure-JS SHA-256 for origins where crypto.subtle does not exist
  // (plain HTTP on anything but localhost). It must stay self-contained: it is also copied
  // into the Web Worker with Function.prototype.toString.
  function sha256Hex(str) {
    var K = sha256Hex.K || (sha256Hex.K = [
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
      0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
      0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
      0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
      0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
      0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
      0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
    ]);
    var bytes = new TextEncoder().encode(str);
    var len = bytes.length;
    var blocks = (len + 9 + 63) >> 6;
    var w = new Uint32Array(blocks * 16);
    for (var i = 0; i < len; i++) w[i >> 2] |= bytes[i] << (24 - (i & 3) * 8);
    w[len >> 2] |= 0x80 << (24 - (len & 3) * 8);
    w[blocks * 16 - 1] = (len * 8) >>> 0;
    w[blocks * 16 - 2] = Math.floor(len / 0x20000000);
    var h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    var m = sha256Hex.M || (sha256Hex.M = new Uint32Array(64));
    for (var blk = 0; blk < blocks; blk++) {
      for (var t = 0; t < 16; t++) m[t] = w[blk * 16 + t];
      for (t = 16; t < 64; t++) {
        var x = m[t - 15], y = m[t - 2];
        var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        m[t] = (m[t - 16] + s0 + m[t - 7] + s1) | 0;
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
      for (t = 0; t < 64; t++) {
        var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        var t1 = (k + S1 + ((e & f) ^ (~e & g)) + K[t] + m[t]) | 0;
        var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        var t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
      h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + k) | 0;
    }
    var out = '';
    for (i = 0; i < 8; i++) out += ('0000000' + (h[i] >>> 0).toString(16)).slice(-8);
    return out;
  }

  function hexOf(buf) {
    var v = new Uint8Array(buf), s = '';
    for (var i = 0; i < v.length; i++) s += (v[i] < 16 ? '0' : '') + v[i].toString(16);
    return s;
  }

  // solvePow tries every number up to max until SHA-256(salt + number) is the challenge,
  // reporting progress through post. Runs in the worker (or, without workers, on the page).
  async function solvePow(salt, target, max, post) {
    var t0 = Date.now();
    var subtle = self.isSecureContext && self.crypto && self.crypto.subtle ? self.crypto.subtle : null;
    var enc = new TextEncoder();
    var n = 0;
    while (n <= max) {
      if (subtle) {
        var batch = [];
        for (var i = 0; i < 256 && n + i <= max; i++) batch.push(subtle.digest('SHA-256', enc.encode(salt + (n + i))));
        var hs = await Promise.all(batch);
        for (var j = 0; j < hs.length; j++) {
          if (hexOf(hs[j]) === target) return post({ number: n + j, took: Date.now() - t0, impl: 'subtle' });
        }
        n += hs.length;
      } else {
        var end = Math.min(max, n + 2999);
        for (; n <= end; n++) {
          if (sha256Hex(salt + n) === target) return post({ number: n, took: Date.now() - t0, impl: 'js' });
        }
        await new Promise(function (r) { setTimeout(r, 0); });
      }
      post({ progress: n / (max + 1) });
    }
    post({ error: 'no solution' });
  }

  window.__alistEdge = { sha256Hex: sha256Hex };

  var C = CFG, T = C.t;
  function $(id) { return document.getElementById(id); }
  var dl = $('dl'), copyBtn = $('copy'), statusEl = $('status'), errEl = $('error'), detailEl = $('detail');
  var bar = $('bar'), sizeEl = $('size'), current = '';

  function setStatus(s) { statusEl.textContent = s || ''; }

  function humanSize(n) {
    if (n < 1024) return n + ' B';
    var units = ['KB', 'MB', 'GB', 'TB', 'PB', 'EB'], f = n / 1024, i = 0;
    while (f >= 1000 && i < units.length - 1) { f /= 1024; i++; }
    return f.toFixed(f < 10 ? 2 : f < 100 ? 1 : 0) + ' ' + units[i];
  }

  // errorKey mirrors errorKey in page.go.
  function errorKey(status, msg) {
    msg = msg || '';
    if (status === 401) return 'err_sign';
    if (status === 429) return 'err_rate';
    if (status === 400) return 'err_path';
    if (status === 404) return 'err_notfound';
    if (msg === 'ipv6 access is prohibited') return 'err_ipv6';
    if (msg === 'proof of work expired') return 'err_pow_expired';
    if (msg.indexOf('proof of work') === 0) return 'err_pow';
    if (msg.indexOf('turnstile') === 0) return 'err_turn';
    if (status === 403) return 'err_denied';
    return 'err_server';
  }

  function showError(key, retry, detail) {
    errEl.textContent = (T[key] || T.err_server).replace('{s}', String(retry || 1));
    errEl.hidden = false;
    if (detail) { detailEl.textContent = T.details + ': ' + detail; detailEl.hidden = false; }
    setStatus('');
    var p = $('progress');
    if (p) p.hidden = true;
    document.body.dataset.state = 'error';
  }

  function ready(url) {
    current = url;
    dl.href = url;
    dl.classList.remove('disabled');
    dl.removeAttribute('aria-disabled');
    copyBtn.hidden = false;
    setStatus(T.ready);
    document.body.dataset.state = 'ready';
    if (C.autoRedirect) {
      setStatus(T.redirecting);
      window.location.href = url;
    }
  }

  function copied(ok) {
    setStatus(ok ? T.copied : T.copy_failed);
    if (!ok) window.prompt(T.copy, current);
  }

  copyBtn.addEventListener('click', function () {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(current).then(function () { copied(true); }, function () { copied(false); });
      return;
    }
    var ta = document.createElement('textarea');
    ta.value = current;
    ta.setAttribute('readonly', '');
    ta.className = 'offscreen';
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    copied(ok);
  });

  if (C.url) {
    ready(C.url);
    return;
  }

  function progress(p) {
    var pct = Math.min(100, Math.floor(p * 100));
    if (bar) bar.style.width = pct + '%';
    setStatus(T.checking_pct.replace('{p}', String(pct)));
  }

  function runPow(ch) {
    return new Promise(function (resolve, reject) {
      var done = false;
      function onMsg(m) {
        if (done) return;
        if (m.progress != null) { progress(m.progress); return; }
        done = true;
        if (m.error) { reject({ key: 'err_pow', detail: m.error }); return; }
        progress(1);
        document.body.dataset.hash = m.impl;
        resolve(btoa(JSON.stringify({
          algorithm: ch.algorithm, challenge: ch.challenge, number: m.number,
          salt: ch.salt, signature: ch.signature, took: m.took
        })));
      }
      function inline() { solvePow(ch.salt, ch.challenge, ch.maxnumber, onMsg); }
      setStatus(T.checking);
      try {
        var src = [sha256Hex, hexOf, solvePow].map(String).join('\n') +
          '\nself.onmessage=function(e){var d=e.data;solvePow(d.salt,d.challenge,d.max,function(m){self.postMessage(m)})};';
        var url = URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));
        var w = new Worker(url);
        w.onmessage = function (e) { onMsg(e.data); };
        w.onerror = function (e) { if (e && e.preventDefault) e.preventDefault(); w.terminate(); inline(); };
        w.postMessage({ salt: ch.salt, challenge: ch.challenge, max: ch.maxnumber });
      } catch (e) {
        inline();
      }
    });
  }

  function runTurnstile(tc) {
    return new Promise(function (resolve, reject) {
      function render() {
        window.turnstile.render('#turnstile', {
          sitekey: tc.siteKey, action: tc.action, cData: tc.cdata,
          callback: resolve,
          'error-callback': function () { reject({ key: 'err_turn' }); },
          'expired-callback': function () { reject({ key: 'err_turn' }); }
        });
      }
      if (!C.pow) setStatus(T.verify_turn);
      if (window.turnstile) { render(); return; }
      var s = $('ts-api');
      s.addEventListener('load', render);
      s.addEventListener('error', function () { reject({ key: 'err_network' }); });
    });
  }

  function fetchInfo(pow, turn) {
    setStatus(T.preparing);
    var body = new URLSearchParams();
    if (pow) body.set('altcha', pow);
    if (turn) body.set('turnstile', turn);
    var url = '/info?path=' + encodeURIComponent(C.path) + '&sign=' + encodeURIComponent(C.sign);
    return fetch(url, { method: 'POST', body: body, credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } })
      .then(function (r) {
        return r.json().then(function (j) { return [r, j]; }, function () { return [r, null]; });
      }, function () { throw { key: 'err_network' }; })
      .then(function (rj) {
        var r = rj[0], j = rj[1];
        if (r.ok && j && j.code === 200) {
          var m = j.data.meta;
          if (m && typeof m.size === 'number' && m.size >= 0) {
            sizeEl.textContent = humanSize(m.size);
            sizeEl.title = m.size + ' ' + T.bytes;
          }
          ready(j.data.download.url);
          return;
        }
        var msg = j && j.message ? j.message : 'HTTP ' + r.status;
        throw { key: errorKey(r.status, msg), retry: j && j['retry-after'], detail: r.status + ' · ' + msg };
      });
  }

  Promise.all([C.pow ? runPow(C.pow) : null, C.turnstile ? runTurnstile(C.turnstile) : null])
    .then(function (res) { return fetchInfo(res[0], res[1]); })
    .catch(function (err) {
      err = err || {};
      showError(err.key || 'err_server', err.retry, err.detail);
    });
})();
