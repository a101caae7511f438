/**
 * A static Linux executable of about 130 bytes that blocks forever without using CPU
 * (x86-64: `pause()` in a loop; arm64, which has no `pause`: `ppoll(NULL, 0, NULL, NULL)`
 * in a loop). It needs nothing from the image it is copied into, not even a libc.
 *
 * Why it exists: Docker's `local` driver mounts a tmpfs volume when a container using it
 * starts (or an archive is copied in) and unmounts it, emptying it, as soon as no
 * container holds it. A created-never-started seed container therefore cannot keep the
 * secret files alive until the task container starts. A started seed running this
 * binary can: it holds the tmpfs mounted while the secrets are copied in and the task
 * container starts, then it is removed.
 */
export function holdBinary(arch: string): Buffer | null {
  switch (arch) {
    case 'amd64':
    case 'x86_64':
      // loop: mov eax, 34 (pause) ; syscall ; jmp loop
      return elf(0x3e, Buffer.from([0xb8, 0x22, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xf7]));
    case 'arm64':
    case 'aarch64':
      // loop: mov x0..x3, #0 ; mov x8, #73 (ppoll) ; svc #0 ; b loop
      return elf(0xb7, words([0xd2800000, 0xd2800001, 0xd2800002, 0xd2800003, 0xd2800928, 0xd4000001, 0x17fffffa]));
    default:
      return null;
  }
}

const BASE = 0x400000n;
const HEADERS = 64 + 56;

/** An ELF64 little-endian executable: one header, one loadable segment, the code right after. */
function elf(machine: number, code: Buffer): Buffer {
  const b = Buffer.alloc(HEADERS + code.length);
  b.write('\x7fELF', 0, 'latin1');
  b[4] = 2; // 64-bit
  b[5] = 1; // little-endian
  b[6] = 1; // ELF version
  b.writeUInt16LE(2, 16); // ET_EXEC
  b.writeUInt16LE(machine, 18);
  b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(BASE + BigInt(HEADERS), 24); // entry point
  b.writeBigUInt64LE(64n, 32); // program headers right after this header
  b.writeUInt16LE(64, 52);
  b.writeUInt16LE(56, 54);
  b.writeUInt16LE(1, 56);
  b.writeUInt32LE(1, 64); // PT_LOAD
  b.writeUInt32LE(5, 68); // read + execute
  b.writeBigUInt64LE(BASE, 80);
  b.writeBigUInt64LE(BASE, 88);
  b.writeBigUInt64LE(BigInt(b.length), 96);
  b.writeBigUInt64LE(BigInt(b.length), 104);
  b.writeBigUInt64LE(0x1000n, 112);
  code.copy(b, HEADERS);
  return b;
}

function words(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32LE(v, i * 4));
  return b;
}
