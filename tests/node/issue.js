// The seed article's Node.js issuer (jsonwebtoken + uuid), parameterised so the
// end-to-end suite can exchange a token that an independent implementation signed,
// and the benchmarks can compare signing rates.
//
//   node issue.js --key private.pem --iss URL --sub SUB --aud AUD [--alg RS256] [--kid KID]
//   node issue.js --key private.pem --bench N        (signs N tokens, prints "signs_per_sec <rate>")
'use strict';
const jwt = require('jsonwebtoken');
const { v4: uuidv4 } = require('uuid');
const fs = require('fs');

function args() {
  const out = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) {
      throw new Error(`bad argument '${argv[i]}': expected --name value pairs`);
    }
    out[argv[i].slice(2)] = argv[i + 1];
  }
  return out;
}

function sign(privateKey, a) {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: a.iss, sub: a.sub, aud: a.aud, jti: uuidv4(), iat: now };
  const options = { algorithm: a.alg || 'RS256', expiresIn: a.lifetime || '60s' };
  if (a.kid) options.keyid = a.kid;
  return jwt.sign(payload, privateKey, options);
}

const a = args();
const privateKey = fs.readFileSync(a.key, 'utf8');
if (a.bench) {
  const n = parseInt(a.bench, 10);
  const fixed = { iss: 'http://localhost:3000', sub: 'nodejsuser-1234', aud: 'http://localhost:8080/realms/acme', alg: a.alg };
  sign(privateKey, fixed); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sign(privateKey, fixed);
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`signs_per_sec ${(n / secs).toFixed(1)}`);
} else {
  process.stdout.write(sign(privateKey, a) + '\n');
}
