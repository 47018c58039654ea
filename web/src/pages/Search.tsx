// One box for names (Chinese, pinyin, initials), identity and phone
// fragments, plates with wildcards, tags; facets as filters; paged.
import { useEffect, useState } from 'react';
import { Card, Checkbox, Col, Empty, Input, List, Pagination, Row, Space, Tag, Typography, Alert } from 'antd';
import { Link, useSearchParams } from 'react-router-dom';
import { ApiError, gql } from '../api/client';
import { useT } from '../i18n';

interface Count { key: string; count: number }
interface Hit { score: number; entity: { ref: string; kind: string; label: string } }
interface Result {
  search: {
    totalCount: number;
    facets: { kinds: Count[]; tags: Count[]; communities: Count[]; regions: Count[] };
    edges: { cursor: string; node: Hit }[];
  };
}

const Q = `query Search($q: String!, $kinds: [String!]!, $regions: [String!]!, $communities: [String!]!, $tags: [String!]!, $first: Int, $after: String) {
  search(query: $q, kinds: $kinds, regions: $regions, communities: $communities, tags: $tags, first: $first, after: $after) {
    totalCount
    facets { kinds { key count } tags { key count } communities { key count } regions { key count } }
    edges { cursor node { score entity { ref kind label } } }
  }
}`;

const PAGE = 20;

export function Search() {
  const t = useT();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const page = Number(params.get('page') ?? '1');
  const filters = {
    kinds: params.getAll('kind'),
    regions: params.getAll('region'),
    communities: params.getAll('community'),
    tags: params.getAll('tag'),
  };
  const [text, setText] = useState(q);
  const [res, setRes] = useState<Result['search'] | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const key = params.toString();
  useEffect(() => {
    if (!q.trim()) {
      setRes(null);
      return;
    }
    let live = true;
    const after = page > 1 ? String((page - 1) * PAGE - 1) : undefined;
    gql<Result>(Q, { q, ...filters, first: PAGE, after })
      .then((d) => live && (setRes(d.search), setErr(null)))
      .catch((e: ApiError) => live && (setErr(e.message), setRes(null)));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  const toggle = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    const all = next.getAll(name);
    next.delete(name);
    for (const v of all.includes(value) ? all.filter((x) => x !== value) : [...all, value]) next.append(name, v);
    next.set('page', '1');
    setParams(next);
  };
  const facet = (title: string, name: string, counts: Count[], label = (k: string) => k) =>
    counts.length > 0 && (
      <Card size="small" title={title} style={{ marginBottom: 12 }} data-testid={`facet-${name}`}>
        {counts.map((c) => (
          <div key={c.key}>
            <Checkbox checked={params.getAll(name).includes(c.key)} onChange={() => toggle(name, c.key)}>
              {label(c.key)} <Typography.Text type="secondary">({c.count})</Typography.Text>
            </Checkbox>
          </div>
        ))}
      </Card>
    );
  return (
    <div className="page">
      <Input.Search
        data-testid="search-box"
        size="large"
        placeholder={t('searchHint')}
        value={text}
        onChange={(e) => setText(e.target.value)}
        onSearch={(v) => setParams(v.trim() ? { q: v.trim(), page: '1' } : {})}
        enterButton={t('search')}
        allowClear
      />
      {err && <Alert style={{ marginTop: 12 }} type="warning" message={err} data-testid="search-error" />}
      {res && (
        <Row gutter={16} style={{ marginTop: 16 }}>
          <Col span={6}>
            {facet(t('kind'), 'kind', res.facets.kinds, t.term)}
            {facet(t('region'), 'region', res.facets.regions)}
            {facet(t('community'), 'community', res.facets.communities)}
            {facet(t('tag'), 'tag', res.facets.tags)}
          </Col>
          <Col span={18}>
            <Typography.Text data-testid="search-total">
              {t('total')} {res.totalCount} {t('results')}
            </Typography.Text>
            {res.edges.length === 0 ? (
              <Empty />
            ) : (
              <List
                data-testid="search-hits"
                dataSource={res.edges}
                renderItem={(e) => (
                  <List.Item>
                    <Space>
                      <Tag>{t.term(e.node.entity.kind)}</Tag>
                      <Link to={`/archive/${encodeURIComponent(e.node.entity.ref)}`} data-testid="hit">
                        {e.node.entity.label || e.node.entity.ref}
                      </Link>
                      <Typography.Text type="secondary">{e.node.entity.ref}</Typography.Text>
                    </Space>
                  </List.Item>
                )}
              />
            )}
            <Pagination
              style={{ marginTop: 12 }}
              current={page}
              pageSize={PAGE}
              total={res.totalCount}
              showSizeChanger={false}
              onChange={(p) => {
                const next = new URLSearchParams(params);
                next.set('page', String(p));
                setParams(next);
              }}
            />
          </Col>
        </Row>
      )}
    </div>
  );
}
