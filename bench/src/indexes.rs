//! `anju bench-faces` and `anju bench-text`: figures for the search indexes
//! (`scripts/bench-search.sh` runs them beside faiss). Prints; asserts
//! nothing.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use rand::{Rng, SeedableRng};
use search::{FaceFilter, FaceIndex, FaceParams};

use server::say;
use server::sysinfo::peak_rss_bytes;

#[derive(Debug, Args)]
pub struct FaceBenchArgs {
    /// Vectors in the index.
    #[arg(long, default_value_t = 1_000_000)]
    n: usize,
    #[arg(long, default_value_t = 128)]
    dim: usize,
    /// Captures per identity (vectors are clustered like face features).
    #[arg(long, default_value_t = 5)]
    per_identity: usize,
    /// Dimensions the identities vary along (face embeddings: few); the
    /// vector dimension makes them uniform random directions.
    #[arg(long, default_value_t = 32)]
    latent: usize,
    #[arg(long, default_value_t = 500)]
    queries: usize,
    /// Vectors staged between commits (as ingest would commit).
    #[arg(long, default_value_t = 250_000)]
    commit_every: usize,
    /// ef_search values to sweep.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "16,24,32,48,64,96,128,160,192,224,256,288,320,384,512,768,1024"
    )]
    ef: Vec<usize>,
    /// With `--out`: the figure is QPS at the smallest swept ef reaching
    /// this recall@10, over `--repeats` passes, appended to this JSON Lines
    /// file (as `anju bench-peers` writes its figures).
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, default_value_t = 0.95)]
    target_recall: f64,
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// How the graph keeps its vectors: i8, f16 or f32 (scores are exact
    /// in every case).
    #[arg(long, default_value = search::Quantisation::default().name())]
    quantisation: search::Quantisation,
    /// Build with `add_many` on every core (else one vector at a time, as
    /// ingest adds them).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    bulk: bool,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Working directory: the index, and the vectors, queries and exact
    /// top-10 as raw little-endian files for the peer (`vectors.f32`,
    /// `queries.f32`, `truth.u32`).
    #[arg(long)]
    dir: PathBuf,
    /// Search the index a previous run left in `--dir` (same `--n`,
    /// `--dim` and quantisation) with its queries and top-10, instead of
    /// generating and building: A/B runs of two binaries on one graph.
    #[arg(long)]
    reuse: bool,
}

fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Face-like data: identities spread over a `latent`-dimensional space
/// (face embeddings vary along few directions: their intrinsic dimension
/// is low) mapped into `dim` dimensions by a fixed random matrix, captures
/// around them at cosine ≈ 0.8 (as two captures of one face are). With
/// `latent` = `dim` the identities are uniform random directions, where
/// the neighbours of a face beyond its own captures are arbitrary and no
/// HNSW reaches a useful recall at 1M.
fn clustered(n: usize, dim: usize, latent: usize, per: usize, rng: &mut impl Rng) -> Vec<f32> {
    // uniform(−a, a) has variance a²/3; dim·σ² = 0.5625 gives cos ≈ 0.8
    let a = (3.0 * 0.5625 / dim as f32).sqrt();
    let latent = latent.clamp(1, dim);
    let basis: Vec<f32> = (0..latent * dim)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let mut out = Vec::with_capacity(n * dim);
    let mut centre = vec![0f32; dim];
    let mut z = vec![0f32; latent];
    for i in 0..n {
        if i % per.max(1) == 0 {
            z.iter_mut().for_each(|x| *x = rng.random_range(-1.0..1.0));
            centre.iter_mut().for_each(|c| *c = 0.0);
            for (zj, row) in z.iter().zip(basis.chunks(dim)) {
                centre.iter_mut().zip(row).for_each(|(c, b)| *c += zj * b);
            }
            normalise(&mut centre);
        }
        let start = out.len();
        out.extend(centre.iter().map(|c| c + rng.random_range(-a..a)));
        normalise(&mut out[start..]);
    }
    out
}

fn write_raw(path: &std::path::Path, bytes: impl Iterator<Item = [u8; 4]>) -> Result<()> {
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| path.display().to_string())?,
    );
    for b in bytes {
        w.write_all(&b)?;
    }
    Ok(w.flush()?)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    crate::relations::percentile(v, p)
}

/// Reads a raw little-endian file of 4-byte values `write_raw` wrote.
fn read_raw<T>(path: &std::path::Path, from: fn([u8; 4]) -> T) -> Result<Vec<T>> {
    let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| from([c[0], c[1], c[2], c[3]]))
        .collect())
}

pub fn bench_faces(a: FaceBenchArgs) -> Result<ExitCode> {
    let (n, dim) = (a.n, a.dim);
    let index_dir = a.dir.join(format!("anju-{n}-{dim}"));
    let params = FaceParams {
        exact_below: 0,
        quantisation: a.quantisation,
        ..FaceParams::default()
    };
    if a.reuse {
        let queries = read_raw(&a.dir.join("queries.f32"), f32::from_le_bytes)?;
        let truth: Vec<Vec<u32>> = read_raw(&a.dir.join("truth.u32"), u32::from_le_bytes)?
            .chunks(10)
            .map(<[u32]>::to_vec)
            .collect();
        if !index_dir.is_dir() || queries.len() != truth.len() * dim {
            bail!(
                "--reuse: no index of {n} × {dim} with its queries in {}",
                a.dir.display()
            );
        }
        return sweep_faces(
            &a,
            &index_dir,
            params,
            &queries,
            &truth,
            "index reused".into(),
        );
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed);
    let t0 = Instant::now();
    let data = clustered(n, dim, a.latent, a.per_identity, &mut rng);
    // queries: new captures of indexed identities
    let mut queries = Vec::with_capacity(a.queries * dim);
    let spread = (3.0 * 0.5625 / dim as f32).sqrt();
    for _ in 0..a.queries {
        let i = rng.random_range(0..n);
        let start = queries.len();
        queries.extend(
            data[i * dim..(i + 1) * dim]
                .iter()
                .map(|c| c + rng.random_range(-spread..spread)),
        );
        normalise(&mut queries[start..]);
    }
    say!(
        "faces: {n} vectors of dim {dim} ({} per identity, identities over {} latent dimensions), {} queries, generated in {:.1} s",
        a.per_identity,
        a.latent.clamp(1, dim),
        a.queries,
        t0.elapsed().as_secs_f64()
    );

    // exact top-10 by scanning (both cores)
    let t0 = Instant::now();
    let truth: Vec<Vec<u32>> = std::thread::scope(|s| {
        let half = a.queries.div_ceil(2);
        let parts: Vec<_> = queries
            .chunks(half.max(1) * dim)
            .map(|qs| {
                let data = &data;
                s.spawn(move || {
                    qs.chunks(dim)
                        .map(|q| {
                            let mut best: Vec<(f32, u32)> = Vec::with_capacity(11);
                            for (i, v) in data.chunks(dim).enumerate() {
                                let d = dot(q, v);
                                if best.len() < 10 || d > best[best.len() - 1].0 {
                                    let at = best.partition_point(|(s, _)| *s >= d);
                                    best.insert(at, (d, i as u32));
                                    best.truncate(10);
                                }
                            }
                            best.into_iter().map(|(_, i)| i).collect::<Vec<u32>>()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    say!(
        "faces: exact top-10 by scan in {:.1} s ({:.1} ms/query)",
        t0.elapsed().as_secs_f64(),
        t0.elapsed().as_secs_f64() * 1000.0 / a.queries.max(1) as f64
    );
    std::fs::create_dir_all(&a.dir)?;
    write_raw(
        &a.dir.join("vectors.f32"),
        data.iter().map(|x| x.to_le_bytes()),
    )?;
    write_raw(
        &a.dir.join("queries.f32"),
        queries.iter().map(|x| x.to_le_bytes()),
    )?;
    write_raw(
        &a.dir.join("truth.u32"),
        truth.iter().flatten().map(|x| x.to_le_bytes()),
    )?;

    let _ = std::fs::remove_dir_all(&index_dir);
    let rss0 = peak_rss_bytes().unwrap_or(0);
    let idx = FaceIndex::open(&index_dir, dim, params)?;
    let names: Vec<String> = (0..n).map(|i| format!("person:{i}")).collect();
    let t0 = Instant::now();
    let every = a.commit_every.max(1);
    for (c, (vs, ns)) in data
        .chunks(dim * every)
        .zip(names.chunks(every))
        .enumerate()
    {
        if a.bulk {
            let items: Vec<(&str, &str, &[f32])> = ns
                .iter()
                .zip(vs.chunks(dim))
                .map(|(e, v)| (e.as_str(), "c", v))
                .collect();
            idx.add_many(&items)?;
        } else {
            for (e, v) in ns.iter().zip(vs.chunks(dim)) {
                idx.add(e, "c", v)?;
            }
        }
        idx.commit(&c.to_string())?;
    }
    let build = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    idx.seal()?;
    let seal = t1.elapsed().as_secs_f64();
    let stats = idx.stats();
    let threads = if a.bulk {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        1
    };
    say!(
        "anju (usearch HNSW M=16 efC=128, {} graph, exact re-rank): built {n} in {build:.1} s = {:.0} vectors/s ({threads} threads, commits of {every}), snapshot {seal:.1} s; {:.0} MiB on disk, graph {:.0} MiB in memory; peak RSS {:.0} MiB (before the index {:.0} MiB, of which the bench's vectors {:.0} MiB)",
        a.quantisation.name(),
        n as f64 / build,
        stats.bytes_on_disk as f64 / (1 << 20) as f64,
        stats.graph_bytes as f64 / (1 << 20) as f64,
        peak_rss_bytes().unwrap_or(0) as f64 / (1 << 20) as f64,
        rss0 as f64 / (1 << 20) as f64,
        (data.len() * 4) as f64 / (1 << 20) as f64,
    );
    drop(idx);
    let built = format!("build {:.0} vectors/s", n as f64 / build);
    sweep_faces(&a, &index_dir, params, &queries, &truth, built)
}

/// Opens the index in `index_dir` again (log read, snapshot loaded), then
/// recall@10 and QPS at each swept ef; with `--out`, the figure at the
/// target recall (`note` ends its note).
fn sweep_faces(
    a: &FaceBenchArgs,
    index_dir: &std::path::Path,
    params: FaceParams,
    queries: &[f32],
    truth: &[Vec<u32>],
    note: String,
) -> Result<ExitCode> {
    let (n, dim) = (a.n, a.dim);
    let t1 = Instant::now();
    let mut idx = FaceIndex::open(index_dir, dim, params)?;
    say!(
        "anju: reopened (log read, snapshot loaded) in {:.1} s",
        t1.elapsed().as_secs_f64()
    );
    // one pass over the queries: recall@10, QPS (one thread), p50, p99
    let pass = |idx: &FaceIndex| -> Result<(f64, f64, f64, f64)> {
        let mut ms = Vec::with_capacity(a.queries);
        let mut found = 0usize;
        let t0 = Instant::now();
        for (q, t) in queries.chunks(dim).zip(truth) {
            let t1 = Instant::now();
            let hits = idx.search(q, 10, -1.0, &FaceFilter::default())?;
            ms.push(t1.elapsed().as_secs_f64() * 1000.0);
            found += hits
                .iter()
                .filter_map(|h| h.entity.strip_prefix("person:")?.parse::<u32>().ok())
                .filter(|i| t.contains(i))
                .count();
        }
        let secs = t0.elapsed().as_secs_f64();
        Ok((
            found as f64 / (truth.len() * 10).max(1) as f64,
            truth.len() as f64 / secs,
            pct(&mut ms, 0.5),
            pct(&mut ms, 0.99),
        ))
    };
    let mut sweep = Vec::new();
    for &ef in &a.ef {
        idx.set_ef_search(ef);
        let (recall, qps, p50, p99) = pass(&idx)?;
        say!(
            "anju  ef={ef:<4} recall@10 {recall:.4}  {qps:>7.0} QPS (1 thread)  p50 {p50:.2} ms  p99 {p99:.2} ms"
        );
        sweep.push((ef, recall, qps));
    }
    if let Some(out) = &a.out {
        // the cheapest breadth that reaches the target recall (else the best)
        let (ef, recall, _) = sweep
            .iter()
            .copied()
            .find(|(_, r, _)| *r >= a.target_recall)
            .or_else(|| sweep.iter().copied().max_by(|x, y| x.1.total_cmp(&y.1)))
            .unwrap_or((128, 0.0, 0.0));
        idx.set_ef_search(ef);
        let mut runs = Vec::new();
        for _ in 0..a.repeats.max(1) {
            runs.push(pass(&idx)?.1);
        }
        let line = serde_json::json!({
            "size": format!("faces {n} × {dim}"),
            "workload": format!("face top-10 at recall ≥ {}", a.target_recall),
            "system": format!("anju (usearch HNSW, {} + exact re-rank)", a.quantisation.name()),
            "metric": "qps", "better": "higher", "runs": runs,
            "note": format!("ef {ef}, recall@10 {recall:.3}; {note}"),
        });
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(out)?;
        writeln!(f, "{line}")?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct TextBenchArgs {
    /// Documents (persons; every third with a vehicle document too).
    #[arg(long, default_value_t = 1_000_000)]
    n: usize,
    /// Queries per workload.
    #[arg(long, default_value_t = 300)]
    queries: usize,
    #[arg(long, default_value_t = 256)]
    writer_mb: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long)]
    dir: PathBuf,
}

const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤";
const GIVEN: &str = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥建国文辉力鹏宇浩然子轩雨欣梓涵一诺佳怡思远博文晨阳嘉豪俊杰欣怡心怡婷婷海燕春梅";
const PROVINCES: &str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";

pub fn bench_text(a: TextBenchArgs) -> Result<ExitCode> {
    use search::{TextDoc, TextIndex, TextQuery};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed);
    let surnames: Vec<char> = SURNAMES.chars().collect();
    let given: Vec<char> = GIVEN.chars().collect();
    let provinces: Vec<char> = PROVINCES.chars().collect();
    let letters: Vec<char> = "ABCDEFGHJKLMNPQRSTUVWXYZ".chars().collect();
    let _ = std::fs::remove_dir_all(&a.dir);
    let idx = TextIndex::open(&a.dir, a.writer_mb)?;
    let mut names = Vec::new();
    let mut ids = Vec::new();
    let mut plates = Vec::new();
    let t0 = Instant::now();
    let mut docs = 0usize;
    for i in 0..a.n {
        let mut name: String = surnames[rng.random_range(0..surnames.len())].into();
        for _ in 0..rng.random_range(1..=2) {
            name.push(given[rng.random_range(0..given.len())]);
        }
        let id = format!(
            "{:06}{:04}{:02}{:02}{:03}{}",
            rng.random_range(110000..660000),
            rng.random_range(1940..2020),
            rng.random_range(1..13),
            rng.random_range(1..29),
            rng.random_range(0..1000),
            rng.random_range(0..10)
        );
        let phone = format!("1{:010}", rng.random_range(3_000_000_000u64..9_999_999_999));
        let community = format!("C{:05}", i % 20_000);
        let region = vec![
            "330000".to_owned(),
            "330100".to_owned(),
            format!("3301{:02}", i % 13 + 1),
        ];
        idx.put(&TextDoc {
            key: format!("person:{id}"),
            kind: "person".into(),
            names: vec![name.clone()],
            idents: vec![id.clone(), phone],
            tags: if i % 50 == 0 {
                vec!["独居老人".into()]
            } else {
                vec![]
            },
            communities: vec![community.clone()],
            regions: vec![region.clone()],
            ..TextDoc::default()
        })?;
        docs += 1;
        if i % 3 == 0 {
            let plate = format!(
                "{}{}{:05}",
                provinces[rng.random_range(0..provinces.len())],
                letters[rng.random_range(0..letters.len())],
                rng.random_range(0..100_000)
            );
            idx.put(&TextDoc {
                key: format!("vehicle:{plate}"),
                kind: "vehicle".into(),
                text: vec!["白色 大众".into()],
                idents: vec![plate.clone()],
                communities: vec![community],
                regions: vec![region],
                ..TextDoc::default()
            })?;
            docs += 1;
            if plates.len() < 10_000 {
                plates.push(plate);
            }
        }
        if names.len() < 10_000 {
            names.push(name);
            ids.push(id);
        }
        if (i + 1) % 250_000 == 0 {
            idx.commit(&format!("bench/{i}"))?;
        }
    }
    idx.commit("bench/end")?;
    let secs = t0.elapsed().as_secs_f64();
    // as a bulk catch-up does (api::texts): one segment answers the queries
    let (segments, t_merge) = (idx.segments(), Instant::now());
    idx.merge_all()?;
    say!(
        "text: {segments} segments merged into {} in {:.1} s",
        idx.segments(),
        t_merge.elapsed().as_secs_f64()
    );
    let size: u64 = std::fs::read_dir(&a.dir)?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    say!(
        "text: indexed {docs} documents in {secs:.1} s = {:.0} docs/s; {:.0} MiB on disk; peak RSS {:.0} MiB",
        docs as f64 / secs,
        size as f64 / (1 << 20) as f64,
        peak_rss_bytes().unwrap_or(0) as f64 / (1 << 20) as f64
    );
    let pinyin_of = |name: &str| -> String {
        use pinyin::ToPinyin;
        name.to_pinyin().flatten().map(|p| p.plain()).collect()
    };
    let workloads: Vec<(&str, Vec<String>)> = vec![
        (
            "name (Chinese)",
            names.iter().take(a.queries).cloned().collect(),
        ),
        (
            "pinyin",
            names.iter().take(a.queries).map(|n| pinyin_of(n)).collect(),
        ),
        (
            "partial plate (浙B*345)",
            plates
                .iter()
                .take(a.queries)
                .map(|p| partial_plate(p))
                .collect(),
        ),
        (
            "id suffix (last 4)",
            ids.iter()
                .take(a.queries)
                .map(|i| i[i.len() - 4..].to_owned())
                .collect(),
        ),
        (
            "id suffix + region filter",
            ids.iter()
                .take(a.queries)
                .map(|i| i[i.len() - 4..].to_owned())
                .collect(),
        ),
    ];
    let district = vec![vec![
        "330000".to_owned(),
        "330100".to_owned(),
        "330101".to_owned(),
    ]];
    for (name, qs) in workloads {
        let filtered = name.contains("region");
        let mut ms = Vec::with_capacity(qs.len());
        let mut total = 0usize;
        for q in &qs {
            let t1 = Instant::now();
            let r = idx.search(&TextQuery {
                text: q,
                regions: if filtered { &district } else { &[] },
                limit: 20,
                ..TextQuery::default()
            })?;
            ms.push(t1.elapsed().as_secs_f64() * 1000.0);
            total += r.total;
        }
        say!(
            "text  {name:<28} p50 {:.2} ms  p99 {:.2} ms  (mean matches {:.0})",
            pct(&mut ms, 0.5),
            pct(&mut ms, 0.99),
            total as f64 / qs.len().max(1) as f64
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The partial plate an officer types: the province and letter, a
/// wildcard, the last three characters (`浙B*345`).
pub(crate) fn partial_plate(plate: &str) -> String {
    let c: Vec<char> = plate.chars().collect();
    let head: String = c.iter().take(2).collect();
    let tail: String = c[c.len().saturating_sub(3)..].iter().collect();
    format!("{head}*{tail}")
}
