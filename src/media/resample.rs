//! A streaming sample-rate converter for mono i16: band-limited interpolation with a
//! Kaiser-windowed sinc (β = 8.6, about 90 dB stop band), cut off at 45 % of the lower of the
//! two rates so that nothing above the output's Nyquist frequency folds back when 44.1 or
//! 16 kHz recordings are brought down to 8 kHz.
//!
//! The ratio is kept exact as `up / down` (rates divided by their gcd). For ratios with up to
//! `MAX_TABLE_PHASES` phases the filter is tabulated once per phase (44.1 → 8 kHz has 80); for
//! stranger rates each output sample evaluates the kernel directly. Each phase is normalised to
//! unit DC gain. Output sample `n` sits at input time `n · down / up`: no delay is added, and
//! `finish` emits `ceil(inputs · up / down)` samples in all.

const ZERO_CROSSINGS: f64 = 16.0;
const KAISER_BETA: f64 = 8.6;
const MAX_TABLE_PHASES: u64 = 2048;

pub struct Resampler {
    up: u64,
    down: u64,
    /// Taps on each side of the centre.
    half: i64,
    /// Cut-off in cycles per input sample.
    cutoff: f64,
    /// `up` rows of `2 * half` taps, if tabulated.
    table: Option<Vec<f32>>,
    /// Input samples from absolute index `base` on.
    hist: Vec<f32>,
    base: i64,
    inputs: u64,
    next_out: u64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Modified Bessel function of the first kind, order 0 (series; converges fast for β ≤ 20).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..50 {
        term *= q / (k as f64 * k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

impl Resampler {
    /// A converter from `from` Hz to `to` Hz. Both must be non-zero.
    pub fn new(from: u32, to: u32) -> Self {
        let (from, to) = (u64::from(from.max(1)), u64::from(to.max(1)));
        let g = gcd(from, to);
        let (up, down) = (to / g, from / g);
        let cutoff = 0.45 * from.min(to) as f64 / from as f64;
        let half = (ZERO_CROSSINGS / (2.0 * cutoff)).ceil() as i64;
        let mut r = Self {
            up,
            down,
            half,
            cutoff,
            table: None,
            hist: vec![0.0; half as usize],
            base: -half,
            inputs: 0,
            next_out: 0,
        };
        if up <= MAX_TABLE_PHASES {
            let taps = 2 * half as usize;
            let mut table = Vec::with_capacity(up as usize * taps);
            let mut row = vec![0f32; taps];
            for phase in 0..up {
                r.fill_row(phase, &mut row);
                table.extend_from_slice(&row);
            }
            r.table = Some(table);
        }
        r
    }

    /// Kernel taps for output phase `phase` (fraction `phase / up` past the centre sample),
    /// for input offsets `-(half - 1) ..= half`, normalised to sum 1.
    fn fill_row(&self, phase: u64, row: &mut [f32]) {
        let frac = phase as f64 / self.up as f64;
        let fc2 = 2.0 * self.cutoff;
        let i0b = bessel_i0(KAISER_BETA);
        let mut sum = 0.0;
        let mut vals = Vec::with_capacity(row.len());
        for (i, _) in row.iter().enumerate() {
            let k = i as i64 - (self.half - 1);
            let t = k as f64 - frac;
            let x = fc2 * t;
            let sinc = if x.abs() < 1e-12 {
                1.0
            } else {
                (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
            };
            let r = t / self.half as f64;
            let w = if r.abs() >= 1.0 {
                0.0
            } else {
                bessel_i0(KAISER_BETA * (1.0 - r * r).sqrt()) / i0b
            };
            let v = fc2 * sinc * w;
            sum += v;
            vals.push(v);
        }
        for (dst, v) in row.iter_mut().zip(vals) {
            *dst = (v / sum) as f32;
        }
    }

    /// Feeds `input`, appending every output sample that is now fully determined to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        self.hist.extend(input.iter().map(|&s| f32::from(s)));
        self.inputs += input.len() as u64;
        self.run(u64::MAX, out);
    }

    /// Ends the stream: pads with silence and emits the remaining outputs.
    pub fn finish(&mut self, out: &mut Vec<i16>) {
        self.hist
            .extend(std::iter::repeat_n(0.0, self.half as usize + 1));
        let total = (u128::from(self.inputs) * u128::from(self.up)).div_ceil(u128::from(self.down));
        self.run(u64::try_from(total).unwrap_or(u64::MAX), out);
    }

    fn run(&mut self, limit: u64, out: &mut Vec<i16>) {
        let taps = 2 * self.half as usize;
        let mut row = vec![0f32; if self.table.is_some() { 0 } else { taps }];
        let end = self.base + self.hist.len() as i64;
        while self.next_out < limit {
            let pos = u128::from(self.next_out) * u128::from(self.down);
            let centre = (pos / u128::from(self.up)) as i64;
            let phase = (pos % u128::from(self.up)) as u64;
            if centre + self.half >= end {
                break;
            }
            let start = (centre - (self.half - 1) - self.base) as usize;
            let window = &self.hist[start..start + taps];
            let coeffs: &[f32] = match &self.table {
                Some(t) => &t[phase as usize * taps..(phase as usize + 1) * taps],
                None => {
                    self.fill_row(phase, &mut row);
                    &row
                }
            };
            let acc: f32 = window.iter().zip(coeffs).map(|(x, h)| x * h).sum();
            out.push(acc.round().clamp(-32768.0, 32767.0) as i16);
            self.next_out += 1;
        }
        // Drop input that no future output needs.
        let next_centre =
            (u128::from(self.next_out) * u128::from(self.down) / u128::from(self.up)) as i64;
        let keep_from = next_centre - (self.half - 1);
        let drop = (keep_from - self.base).clamp(0, self.hist.len() as i64) as usize;
        if drop > 0 && drop * 2 >= self.hist.len() {
            self.hist.drain(..drop);
            self.base += drop as i64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(from: u32, to: u32, input: &[i16], chunk: usize) -> Vec<i16> {
        let mut r = Resampler::new(from, to);
        let mut out = Vec::new();
        for c in input.chunks(chunk.max(1)) {
            r.process(c, &mut out);
        }
        r.finish(&mut out);
        out
    }

    fn sine(rate: u32, freq: f64, amp: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin()).round()
                    as i16
            })
            .collect()
    }

    fn rms(x: &[i16]) -> f64 {
        (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len().max(1) as f64).sqrt()
    }

    #[test]
    fn output_length_is_exact() {
        for (from, to, n, expect) in [
            (44_100u32, 8000u32, 44_100usize, 8000usize),
            (44_100, 8000, 1, 1),
            (44_100, 8000, 0, 0),
            (16_000, 8000, 16_001, 8001),
            (48_000, 8000, 4_800, 800),
            (11_025, 8000, 11_025 * 3, 24_000),
            (8000, 16_000, 100, 200),
            (44_101, 8000, 44_101, 8000),
        ] {
            let out = run(from, to, &vec![0; n], 777);
            assert_eq!(out.len(), expect, "{from}→{to}, {n} in");
        }
    }

    #[test]
    fn chunking_does_not_change_the_output() {
        let input = sine(44_100, 440.0, 10_000.0, 20_000);
        let whole = run(44_100, 8000, &input, input.len());
        for chunk in [1, 7, 160, 4096] {
            assert_eq!(run(44_100, 8000, &input, chunk), whole, "chunk {chunk}");
        }
    }

    #[test]
    fn dc_is_preserved() {
        for (from, to) in [
            (44_100u32, 8000u32),
            (16_000, 8000),
            (44_101, 8000),
            (8000, 11_025),
        ] {
            let out = run(from, to, &vec![10_000; from as usize], 1000);
            let mid = &out[out.len() / 4..out.len() * 3 / 4];
            assert!(
                mid.iter().all(|&v| (v - 10_000).abs() <= 1),
                "{from}→{to}: {:?}",
                &mid[..4]
            );
        }
    }

    #[test]
    fn passes_the_voice_band_and_stops_above_nyquist() {
        for from in [44_100u32, 16_000, 48_000] {
            let n = from as usize;
            // 1 kHz passes with its amplitude (RMS of a sine = A / √2).
            let pass = run(from, 8000, &sine(from, 1000.0, 16_000.0, n), 4096);
            let r = rms(&pass[1000..7000]);
            assert!(
                (r - 16_000.0 / 2f64.sqrt()).abs() < 120.0,
                "{from}: pass rms {r}"
            );
            // 5 kHz and 6.5 kHz would alias to 3 kHz and 1.5 kHz: they must be gone.
            for f in [5_000.0, 6_500.0] {
                let stop = run(from, 8000, &sine(from, f, 16_000.0, n), 4096);
                let r = rms(&stop[1000..7000]);
                assert!(r < 16.0, "{from}: {f} Hz leaks with rms {r}");
            }
        }
    }

    #[test]
    fn memory_stays_bounded() {
        let mut r = Resampler::new(44_100, 8000);
        let mut out = Vec::new();
        let block = vec![1000i16; 44_100];
        for _ in 0..30 {
            out.clear();
            r.process(&block, &mut out);
            assert!(
                r.hist.len() < 2 * 44_100 + 1000,
                "history grows: {}",
                r.hist.len()
            );
        }
    }
}
