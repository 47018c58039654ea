//! Tests of `text`.

use super::*;

fn person(
    key: &str,
    name: &str,
    id: &str,
    phone: &str,
    community: &str,
    region: &[&str],
) -> TextDoc {
    TextDoc {
        key: key.into(),
        kind: "person".into(),
        names: vec![name.into()],
        text: vec![],
        idents: vec![id.into(), phone.into()],
        tags: vec![],
        communities: vec![community.into()],
        regions: vec![region.iter().map(|s| s.to_string()).collect()],
    }
}

fn keys(r: &TextResults) -> Vec<&str> {
    r.hits.iter().map(|h| h.key.as_str()).collect()
}

fn index() -> (tempfile::TempDir, TextIndex) {
    let dir = tempfile::tempdir().unwrap();
    let idx = TextIndex::open(dir.path(), 32).unwrap();
    let west = ["330000", "330100", "330106"];
    let east = ["330000", "330100", "330102"];
    idx.put(&person(
        "person:1",
        "张伟",
        "330106199001011234",
        "138-0013-5678",
        "c1",
        &west,
    ))
    .unwrap();
    idx.put(&person(
        "person:2",
        "张卫东",
        "330102198512125678",
        "13900001111",
        "c2",
        &east,
    ))
    .unwrap();
    idx.put(&person(
        "person:3",
        "李娜",
        "110101197003033333",
        "13700002222",
        "c3",
        &["110000", "110100", "110101"],
    ))
    .unwrap();
    let mut p4 = person(
        "person:4",
        "王芳",
        "33010619920202444X",
        "13600003333",
        "c1",
        &west,
    );
    p4.tags = vec!["独居老人".into()];
    idx.put(&p4).unwrap();
    idx.put(&TextDoc {
        key: "vehicle:浙B12345".into(),
        kind: "vehicle".into(),
        text: vec!["白色 大众".into()],
        idents: vec!["浙B·12345".into()],
        communities: vec!["c1".into()],
        regions: vec![west.iter().map(|s| s.to_string()).collect()],
        ..TextDoc::default()
    })
    .unwrap();
    idx.put(&TextDoc {
        key: "house:h1".into(),
        kind: "house".into(),
        text: vec!["西湖区文三路阳光小区3幢2单元501室".into()],
        communities: vec!["c1".into()],
        regions: vec![west.iter().map(|s| s.to_string()).collect()],
        ..TextDoc::default()
    })
    .unwrap();
    idx.commit("base:6").unwrap();
    (dir, idx)
}

fn q(text: &str) -> TextQuery<'_> {
    TextQuery {
        text,
        limit: 10,
        ..TextQuery::default()
    }
}

#[test]
fn number_terms_are_told_from_plates_and_names() {
    assert_eq!(
        number_terms("张 1234 138????5678 3209*123X 浙B12345 B123 zw 12"),
        ["1234", "138????5678", "3209*123X"]
    );
}

#[test]
fn finds_the_way_an_officer_types() {
    let (_d, idx) = index();
    let s = |t: &str| idx.search(&q(t)).unwrap();
    // Chinese names: words and single characters
    assert_eq!(keys(&s("张伟")), ["person:1"]);
    let zhang = s("张");
    assert_eq!(zhang.total, 2);
    assert_eq!(keys(&s("卫东")), ["person:2"]);
    // pinyin, initials, prefix, a typo
    // (a prefix also finds 张卫东, ranked below the exact reading)
    assert_eq!(keys(&s("zhangwei")), ["person:1", "person:2"]);
    assert_eq!(keys(&s("zw")), ["person:1", "person:2"]);
    assert_eq!(keys(&s("zwd")), ["person:2"]);
    assert_eq!(keys(&s("zhangweidong")), ["person:2"]);
    assert_eq!(keys(&s("zhangwie")), ["person:1"]);
    assert_eq!(s("zhang").total, 2);
    // identity numbers and phones: full, prefix, suffix, masked
    assert_eq!(keys(&s("330106199001011234")), ["person:1"]);
    assert_eq!(keys(&s("1234"))[0], "person:1");
    assert_eq!(keys(&s("444x")), ["person:4"]);
    assert_eq!(s("330106").total, 2);
    assert_eq!(keys(&s("3301*1234")), ["person:1"]);
    assert_eq!(keys(&s("3301?????????????4")), ["person:1"]);
    assert_eq!(s("3301????????????4").total, 0, "? is one character");
    assert_eq!(keys(&s("138????5678")), ["person:1"]);
    assert_eq!(keys(&s("138****5678")), ["person:1"]);
    assert_eq!(keys(&s("13800135678")), ["person:1"]);
    // plates, ignoring case and separators, with wildcards
    assert_eq!(keys(&s("浙b12345")), ["vehicle:浙B12345"]);
    assert_eq!(keys(&s("浙B*2345")), ["vehicle:浙B12345"]);
    assert_eq!(keys(&s("*2345")), ["vehicle:浙B12345"]);
    assert_eq!(keys(&s("B1234")), ["vehicle:浙B12345"]);
    assert_eq!(keys(&s("浙b-12")), ["vehicle:浙B12345"]);
    assert_eq!(s("B1243").total, 0);
    // wildcards walked from either end, or from neither
    assert_eq!(keys(&s("浙B12*")), ["vehicle:浙B12345"]);
    assert_eq!(keys(&s("浙?12345")), ["vehicle:浙B12345"]);
    assert_eq!(keys(&s("*B123*")), ["vehicle:浙B12345"]);
    assert_eq!(s("*B124*").total, 0);
    assert_eq!(s("浙A*2345").total, 0);
    // a wildcard holding a Chinese character walks the plates only; one
    // without walks every identifier
    assert_eq!(s("*5678").total, 2, "an identity number and a phone");
    assert_eq!(s("浙B*5678").total, 0);
    assert_eq!(s("浙*345").total, 1);
    // addresses and tags
    assert_eq!(keys(&s("阳光小区 501")), ["house:h1"]);
    // a fragment across words: its adjacent pairs, in order
    assert_eq!(keys(&s("三路阳光")), ["house:h1"]);
    assert_eq!(s("光阳").total, 0, "both characters, not as a pair");
    assert_eq!(keys(&s("独居老人")), ["person:4"]);
    assert_eq!(s("没有这个人").total, 0);
    assert!(idx.search(&q("  ")).is_err());
    assert!(idx.search(&q("**")).is_err());
}

#[test]
fn filters_pages_and_facets() {
    let (_d, idx) = index();
    let all = idx.search(&q("3301")).unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(all.kinds, [("person".to_owned(), 3)]);
    let district = [["330000", "330100", "330106"].map(str::to_owned).to_vec()];
    let r = idx
        .search(&TextQuery {
            regions: &district,
            ..q("3301")
        })
        .unwrap();
    assert_eq!(r.total, 2);
    let city: Vec<String> = ["330000", "330100"].iter().map(|s| s.to_string()).collect();
    let regions = [city];
    let r = idx
        .search(&TextQuery {
            regions: &regions,
            ..q("3301")
        })
        .unwrap();
    assert_eq!(r.total, 3, "a region includes those below it");
    assert_eq!(
        r.regions,
        [("330106".to_owned(), 2), ("330102".to_owned(), 1)]
    );
    let c1 = ["c1".to_owned()];
    let r = idx
        .search(&TextQuery {
            communities: &c1,
            ..q("3301")
        })
        .unwrap();
    assert_eq!(r.total, 2);
    let tag = ["独居老人".to_owned()];
    let r = idx
        .search(&TextQuery {
            tags: &tag,
            ..q("3301")
        })
        .unwrap();
    assert_eq!(keys(&r), ["person:4"]);
    let kinds = ["vehicle".to_owned()];
    let r = idx
        .search(&TextQuery {
            kinds: &kinds,
            ..q("12345")
        })
        .unwrap();
    assert_eq!(keys(&r), ["vehicle:浙B12345"]);
    // pages: disjoint, same total
    let p1 = idx
        .search(&TextQuery {
            limit: 2,
            ..q("3301")
        })
        .unwrap();
    let p2 = idx
        .search(&TextQuery {
            limit: 2,
            offset: 2,
            ..q("3301")
        })
        .unwrap();
    assert_eq!((p1.total, p2.total), (3, 3));
    assert_eq!((p1.hits.len(), p2.hits.len()), (2, 1));
    assert!(keys(&p1).iter().all(|k| !keys(&p2).contains(k)));
}

#[test]
fn equal_scores_page_alike_whatever_the_segments() {
    let west = ["330000"];
    let doc = |n: u32| {
        person(
            &format!("person:{n}"),
            "王芳",
            &format!("33010619800101{n:04}"),
            "13800000000",
            "c1",
            &west,
        )
    };
    let order = [7, 3, 9, 1, 5, 8, 2, 6, 4, 0];
    let pages = |idx: &TextIndex| -> Vec<String> {
        let mut seen = Vec::new();
        for page in 0..4 {
            let r = idx
                .search(&TextQuery {
                    offset: page * 3,
                    limit: 3,
                    ..q("王芳")
                })
                .unwrap();
            assert_eq!(r.total, 10);
            assert!(r.hits.windows(2).all(|w| w[0].score == w[1].score));
            seen.extend(r.hits.into_iter().map(|h| h.key));
        }
        seen
    };
    // one commit per document (as many segments), and all in one
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let many = TextIndex::open(d1.path(), 32).unwrap();
    for n in order {
        many.put(&doc(n)).unwrap();
        many.commit(&n.to_string()).unwrap();
    }
    let one = TextIndex::open(d2.path(), 32).unwrap();
    for n in order.iter().rev() {
        one.put(&doc(*n)).unwrap();
    }
    one.commit("1").unwrap();
    let seen = pages(&many);
    assert_eq!(seen, pages(&one), "the same pages whatever the layout");
    let mut all = seen.clone();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 10, "pages disjoint and whole: {seen:?}");
    assert!(seen.windows(2).all(|w| key_order(&w[0]) < key_order(&w[1])));
}

#[test]
fn an_index_of_another_layout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut sb = Schema::builder();
        sb.add_text_field("key", STRING);
        let index = Index::create_in_dir(dir.path(), sb.build()).unwrap();
        let mut w: IndexWriter = index.writer(15 << 20).unwrap();
        w.commit().unwrap();
    }
    assert!(matches!(
        TextIndex::open(dir.path(), 32),
        Err(TextError::Layout(_))
    ));
    assert!(matches!(
        TextIndex::open_reader(dir.path()),
        Err(TextError::Layout(_))
    ));
}

#[test]
fn replaces_deletes_and_keeps_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_d, idx) = (0, TextIndex::open(dir.path(), 32).unwrap());
        assert_eq!(idx.checkpoint().unwrap(), None);
        let west = ["330000"];
        idx.put(&person("person:1", "张伟", "1", "2", "c1", &west))
            .unwrap();
        idx.put(&person("person:1", "张伟", "1", "2", "c2", &west))
            .unwrap();
        idx.put(&person("person:2", "李娜", "3", "4", "c1", &west))
            .unwrap();
        idx.commit("7").unwrap();
        assert_eq!(idx.num_docs(), 2, "a put replaces the document");
        let c2 = ["c2".to_owned()];
        let r = idx
            .search(&TextQuery {
                communities: &c2,
                ..q("张伟")
            })
            .unwrap();
        assert_eq!(r.total, 1);
        idx.delete("person:2").unwrap();
        // uncommitted: lost with the process
        idx.put(&person("person:9", "赵六", "5", "6", "c1", &west))
            .unwrap();
        idx.commit("8").unwrap();
        idx.put(&person("person:10", "钱七", "7", "8", "c1", &west))
            .unwrap();
    }
    let idx = TextIndex::open(dir.path(), 32).unwrap();
    assert_eq!(idx.checkpoint().unwrap().as_deref(), Some("8"));
    assert_eq!(idx.num_docs(), 2);
    assert_eq!(idx.search(&q("李娜")).unwrap().total, 0);
    assert_eq!(idx.search(&q("钱七")).unwrap().total, 0);
    assert!(idx.segments() > 1);
    idx.merge_all().unwrap();
    assert_eq!(idx.segments(), 1);
    assert_eq!(
        idx.checkpoint().unwrap().as_deref(),
        Some("8"),
        "kept by a merge"
    );
    let reader = TextIndex::open_reader(dir.path()).unwrap();
    assert_eq!(reader.search(&q("张伟")).unwrap().total, 1);
    assert!(matches!(reader.commit("9"), Err(TextError::ReadOnly)));
    idx.clear().unwrap();
    assert_eq!(idx.num_docs(), 0);
}

#[test]
fn a_typo_is_forgiven_only_where_nothing_matches() {
    let dir = tempfile::tempdir().unwrap();
    let idx = TextIndex::open(dir.path(), 32).unwrap();
    let west = ["330000"];
    idx.put(&person("person:1", "张伟", "1", "2", "c1", &west))
        .unwrap();
    idx.put(&person("person:2", "张美", "3", "4", "c1", &west))
        .unwrap();
    idx.commit("1").unwrap();
    let s = |t: &str| keys(&idx.search(&q(t)).unwrap()).join(",");
    assert_eq!(s("zhangwei"), "person:1", "typed right: no neighbours");
    assert_eq!(s("zhangmie"), "person:2", "a transposition");
    assert_eq!(s("zhangwel"), "person:1", "a wrong letter");
}

#[test]
fn plate_fragments_hold_a_letter_and_a_digit() {
    let f = fragments("浙B12345");
    for want in ["浙B1", "B1", "B12345", "浙B12345"] {
        assert!(f.contains(&want.to_owned()), "{want} in {f:?}");
    }
    assert!(!f.iter().any(|x| x == "12345" || x == "浙B"), "{f:?}");
    assert!(fragments("13800135678").is_empty(), "digits alone");
    assert!(fragments("33010619900101123X").is_empty(), "too long");
}

#[test]
fn pinyin_covers_heteronyms_and_idents_are_normalised() {
    let forms = pinyin_forms("单强", 8);
    assert!(forms.contains(&"shanqiang".to_owned()), "{forms:?}");
    assert!(forms.contains(&"danqiang".to_owned()));
    assert!(forms.contains(&"dq".to_owned()));
    assert_eq!(normalise_ident("浙b·123-45"), "浙B12345");
}
