import { ProviderError, ScaleInNotDrainedError, ScalingProvider } from './scaling-provider';

/** A provider under test and the world around it. */
export interface ProviderWorld {
  provider: ScalingProvider;
  /** The name the group's n-th worker (1-based) has. */
  worker(n: number): string;
  /** Mark that worker as running (busy or not yet exited) / exited. */
  setRunning(worker: string, running: boolean): void;
}

/**
 * The behaviour every {@link ScalingProvider} shows; run against each implementation
 * (scaling-providers.spec.ts). `make(initial)` returns a group of `initial` running workers.
 * `seesWorkers`: the provider can tell a running worker from an exited one (Swarm, simulated),
 * so it refuses to lower the size over a running one; a command provider cannot.
 */
export function describeProviderContract(name: string, make: (initial: number) => Promise<ProviderWorld>, options: { seesWorkers: boolean }): void {
  describe(`ScalingProvider contract: ${name}`, () => {
    const removed = (w: ProviderWorld, ...ns: number[]) => ns.map((n) => ({ worker: w.worker(n), node: `node-${n}` }));

    it('reports its current size', async () => {
      expect(await (await make(2)).provider.current()).toBe(2);
    });

    it('scales up at once, from zero too', async () => {
      const w = await make(0);
      await w.provider.scaleTo(3, []);
      expect(await w.provider.current()).toBe(3);
    });

    it('setting the same size is a no-op', async () => {
      const w = await make(2);
      await w.provider.scaleTo(2, []);
      expect(await w.provider.current()).toBe(2);
    });

    it('scales in by the workers named as drained and exited', async () => {
      const w = await make(3);
      w.setRunning(w.worker(3), false);
      w.setRunning(w.worker(2), false);
      await w.provider.scaleTo(1, removed(w, 3, 2));
      expect(await w.provider.current()).toBe(1);
    });

    it('refuses to scale in by more than the drained workers, and changes nothing', async () => {
      const w = await make(3);
      w.setRunning(w.worker(3), false);
      const error = await w.provider.scaleTo(1, removed(w, 3)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ScaleInNotDrainedError);
      expect((error as Error).message).toMatch(/^cannot scale \S+ in: lowering 3 → 1 removes 2 worker\(s\) but only 1 were drained and exited\. Drain/);
      expect(await w.provider.current()).toBe(3);
    });

    if (options.seesWorkers) {
      it('refuses to scale in over a worker that still runs', async () => {
        const w = await make(2);
        const error = await w.provider.scaleTo(1, removed(w, 2)).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ScaleInNotDrainedError);
        expect((error as Error).message).toContain(`worker ${w.worker(2)} still runs`);
        expect(await w.provider.current()).toBe(2);
      });
    }

    it('rejects a negative or fractional size', async () => {
      const w = await make(1);
      await expect(w.provider.scaleTo(-1, removed(w, 1))).rejects.toBeInstanceOf(ProviderError);
      await expect(w.provider.scaleTo(1.5, [])).rejects.toBeInstanceOf(ProviderError);
    });
  });
}
