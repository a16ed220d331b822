/** A one-line progress bar on stderr (redrawn on a terminal, a line every 10% elsewhere). */
export function progressBar(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): { tick(done: number): void; end(): void } {
  const started = performance.now();
  let lastDraw = 0;
  let lastDecile = -1;
  const line = (done: number) => {
    const ratio = total === 0 ? 1 : done / total;
    const width = 30;
    const filled = Math.round(ratio * width);
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    return `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}% ${done}/${total} · ${rate.toFixed(0)}/s`;
  };
  return {
    tick(done) {
      if (stream.isTTY) {
        const now = performance.now();
        if (now - lastDraw < 80 && done < total) return;
        lastDraw = now;
        stream.write(`\r\x1b[2K${line(done)}`);
      } else {
        const decile = Math.floor((done / Math.max(1, total)) * 10);
        if (decile === lastDecile) return;
        lastDecile = decile;
        stream.write(`${line(done)}\n`);
      }
    },
    end() {
      if (stream.isTTY) stream.write('\n');
    },
  };
}
