/**
 * The emulator's TLS material: a self-signed CA and a leaf certificate for `localhost` / `127.0.0.1` (and the
 * configured host), generated on first start with node-forge and persisted in the state directory, so restarts reuse
 * the CA that clients already trust. Keys are generated with node:crypto (fast) and handed to forge as PEM.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';

export interface TlsMaterial {
  caCertPem: string;
  caCertPath: string;
  serverCertPem: string;
  serverKeyPem: string;
}

export const CA_CERT_FILE = 'ca-cert.pem';
const CA_KEY_FILE = 'ca-key.pem';
const SERVER_CERT_FILE = 'server-cert.pem';
const SERVER_KEY_FILE = 'server-key.pem';

const CA_VALIDITY_YEARS = 10;
const SERVER_VALIDITY_DAYS = 365;

/**
 * Loads the CA from `stateDir`, or creates it when absent; then loads or (re)issues the leaf so that it covers
 * `hosts`. Repeated calls with the same directory return the same CA.
 */
export async function loadOrCreateTls(stateDir: string, hosts: readonly string[]): Promise<TlsMaterial> {
  await mkdir(stateDir, { recursive: true });
  const caCertPath = join(stateDir, CA_CERT_FILE);
  const caKeyPath = join(stateDir, CA_KEY_FILE);
  let caCertPem: string;
  let caKeyPem: string;
  if (existsSync(caCertPath) && existsSync(caKeyPath)) {
    caCertPem = await readFile(caCertPath, 'utf8');
    caKeyPem = await readFile(caKeyPath, 'utf8');
  } else {
    ({ certPem: caCertPem, keyPem: caKeyPem } = createCa());
    await writeAtomically(caKeyPath, caKeyPem, 0o600);
    await writeAtomically(caCertPath, caCertPem, 0o644);
  }

  const wanted = [...new Set(['localhost', '127.0.0.1', ...hosts])];
  const serverCertPath = join(stateDir, SERVER_CERT_FILE);
  const serverKeyPath = join(stateDir, SERVER_KEY_FILE);
  if (existsSync(serverCertPath) && existsSync(serverKeyPath)) {
    const serverCertPem = await readFile(serverCertPath, 'utf8');
    if (leafIsUsable(serverCertPem, caCertPem, wanted)) {
      return { caCertPem, caCertPath, serverCertPem, serverKeyPem: await readFile(serverKeyPath, 'utf8') };
    }
  }
  const leaf = createLeaf(caCertPem, caKeyPem, wanted);
  await writeAtomically(serverKeyPath, leaf.keyPem, 0o600);
  await writeAtomically(serverCertPath, leaf.certPem, 0o644);
  return { caCertPem, caCertPath, serverCertPem: leaf.certPem, serverKeyPem: leaf.keyPem };
}

async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, path);
}

function newKeyPair(): { publicKey: forge.pki.PublicKey; privateKey: forge.pki.PrivateKey; keyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKey: forge.pki.publicKeyFromPem(publicKey), privateKey: forge.pki.privateKeyFromPem(privateKey), keyPem: privateKey };
}

function serialNumber(): string {
  // Positive (high bit clear), 16 bytes.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function createCa(): { certPem: string; keyPem: string } {
  const keys = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + CA_VALIDITY_YEARS * 365 * 86_400_000);
  const subject = [
    { name: 'commonName', value: 'Secret Relay local Key Vault emulator CA' },
    { name: 'organizationName', value: 'Secret Relay (local)' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem };
}

function createLeaf(caCertPem: string, caKeyPem: string, hosts: readonly string[]): { certPem: string; keyPem: string } {
  const caCert = forge.pki.certificateFromPem(caCertPem);
  const caKey = forge.pki.privateKeyFromPem(caKeyPem);
  const keys = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + SERVER_VALIDITY_DAYS * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: 'localhost' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })) },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem };
}

/** True when the leaf was issued by this CA, is valid for at least another day, and covers every host. */
function leafIsUsable(leafPem: string, caCertPem: string, hosts: readonly string[]): boolean {
  try {
    const leaf = forge.pki.certificateFromPem(leafPem);
    const ca = forge.pki.certificateFromPem(caCertPem);
    if (!ca.verify(leaf)) return false;
    if (leaf.validity.notAfter.getTime() < Date.now() + 86_400_000) return false;
    const san = leaf.getExtension('subjectAltName') as { altNames?: { type: number; value?: string; ip?: string }[] } | null;
    const names = new Set((san?.altNames ?? []).map((n) => (n.type === 7 ? n.ip : n.value)));
    return hosts.every((h) => names.has(h));
  } catch {
    return false;
  }
}
