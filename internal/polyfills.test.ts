import './polyfills.js';

describe('polyfills', () => {
  it('provides Promise.withResolvers whose promise settles through the returned resolve', async () => {
    const { promise, resolve } = (Promise as unknown as {
      withResolvers<T>(): { promise: Promise<T>; resolve: (v: T) => void };
    }).withResolvers<number>();
    resolve(42);
    await expect(promise).resolves.toBe(42);
  });
});
