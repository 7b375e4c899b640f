/**
 * A self-signed CA and a server certificate for 127.0.0.1/localhost, so `@kubernetes/client-node` and kubectl connect
 * with a pinned CA (no insecure-skip-tls-verify). With a state dir, the CA and server certificate are persisted and
 * reused, so a restarted emulator keeps the same trust.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

export interface TlsMaterial {
  caCertPem: string;
  caKeyPem: string;
  certPem: string;
  keyPem: string;
}

const FILES = { caCertPem: 'ca.pem', caKeyPem: 'ca-key.pem', certPem: 'server.pem', keyPem: 'server-key.pem' } as const;

function newKeyPair(): { publicKey: forge.pki.PublicKey; privateKey: forge.pki.rsa.PrivateKey; privateKeyPem: string } {
  // Native key generation: node-forge's pure-JS RSA keygen takes seconds on a busy 2-core machine.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(privateKeyPem) as forge.pki.rsa.PrivateKey;
  return { privateKey: forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e), privateKeyPem };
}

function serial(): string {
  // Positive serial number: clear the high bit.
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, years: number): void {
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(now + years * 365 * 24 * 60 * 60 * 1000);
}

/** Creates a CA and a server certificate signed by it (SANs: 127.0.0.1, ::1, localhost, and `extraHosts`). */
export function createTlsMaterial(options: { commonName: string; extraHosts?: readonly string[] }): TlsMaterial {
  const ca = newKeyPair();
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = ca.publicKey;
  caCert.serialNumber = serial();
  validity(caCert, 10);
  const caSubject = [{ name: 'commonName', value: `${options.commonName}-ca` }];
  caCert.setSubject(caSubject);
  caCert.setIssuer(caSubject);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  caCert.sign(ca.privateKey, forge.md.sha256.create());

  const server = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = server.publicKey;
  cert.serialNumber = serial();
  validity(cert, 5);
  cert.setSubject([{ name: 'commonName', value: options.commonName }]);
  cert.setIssuer(caSubject);
  const altNames: { type: number; value?: string; ip?: string }[] = [
    { type: 2, value: 'localhost' },
    { type: 7, ip: '127.0.0.1' },
    { type: 7, ip: '::1' },
  ];
  for (const host of options.extraHosts ?? []) {
    altNames.push(/^[\d.]+$/.test(host) || host.includes(':') ? { type: 7, ip: host } : { type: 2, value: host });
  }
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
  ]);
  cert.sign(ca.privateKey, forge.md.sha256.create());

  return {
    caCertPem: forge.pki.certificateToPem(caCert),
    caKeyPem: ca.privateKeyPem,
    certPem: forge.pki.certificateToPem(cert),
    keyPem: server.privateKeyPem,
  };
}

/** Loads TLS material from `stateDir` if all files exist, else creates it and (with a state dir) saves it. */
export function loadOrCreateTlsMaterial(options: { commonName: string; stateDir?: string; extraHosts?: readonly string[] }): TlsMaterial {
  const { stateDir } = options;
  if (stateDir && Object.values(FILES).every((file) => existsSync(join(stateDir, file)))) {
    return {
      caCertPem: readFileSync(join(stateDir, FILES.caCertPem), 'utf8'),
      caKeyPem: readFileSync(join(stateDir, FILES.caKeyPem), 'utf8'),
      certPem: readFileSync(join(stateDir, FILES.certPem), 'utf8'),
      keyPem: readFileSync(join(stateDir, FILES.keyPem), 'utf8'),
    };
  }
  const material = createTlsMaterial(options);
  if (stateDir) {
    mkdirSync(stateDir, { recursive: true });
    for (const [field, file] of Object.entries(FILES)) {
      writeFileSync(join(stateDir, file), material[field as keyof TlsMaterial], { mode: file.includes('key') ? 0o600 : 0o644 });
    }
  }
  return material;
}
