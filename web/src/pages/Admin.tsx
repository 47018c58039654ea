// 系统管理 (administrators only): tokens (list, revoke) and the audit log
// with its verification.
import { useCallback, useEffect, useState } from 'react';
import { Alert, Button, Card, Col, Popconfirm, Row, Table, Tag } from 'antd';
import { gql } from '../api/client';
import { useT } from '../i18n';

interface Token { id: string; name: string; role: string; regions: string[]; expires: string; revoked: boolean }
interface Entry { seq: number; at: string; who: string; role: string; operation: string; fields: string[]; records: string[]; recordsTotal: number; outcome: string }

export function Admin() {
  const t = useT();
  const [tokens, setTokens] = useState<Token[]>([]);
  const [log, setLog] = useState<Entry[]>([]);
  const [verify, setVerify] = useState<{ ok: boolean; entries: number; problem: string | null } | null>(null);
  const load = useCallback(() => {
    gql<{ tokens: Token[] }>(`{ tokens { id name role regions expires revoked } }`).then((d) => setTokens(d.tokens));
    gql<{ auditLog: Entry[] }>(`{ auditLog(first: 100) { seq at who role operation fields records recordsTotal outcome } }`).then((d) => setLog(d.auditLog));
  }, []);
  useEffect(load, [load]);
  const revoke = async (id: string) => {
    await gql(`mutation($id: String!) { revokeToken(id: $id) }`, { id });
    load();
  };
  return (
    <div className="page">
      <Row gutter={16}>
        <Col span={10}>
          <Card size="small" title={t('tokens')}>
            <Table
              data-testid="tokens"
              size="small"
              rowKey="id"
              dataSource={tokens}
              pagination={{ pageSize: 15 }}
              columns={[
                { title: t('name'), dataIndex: 'name' },
                { title: t('role'), dataIndex: 'role', render: (r: string) => t.term(r.toLowerCase()) },
                { title: t('regions'), dataIndex: 'regions', render: (r: string[]) => r.join(', ') },
                { title: t('expires'), dataIndex: 'expires' },
                {
                  title: '',
                  render: (_, x: Token) =>
                    x.revoked ? <Tag>{t('revoked')}</Tag> : (
                      <Popconfirm title={t('revoke')} onConfirm={() => revoke(x.id)}>
                        <Button size="small" danger>{t('revoke')}</Button>
                      </Popconfirm>
                    ),
                },
              ]}
            />
          </Card>
        </Col>
        <Col span={14}>
          <Card
            size="small"
            title={t('audit')}
            extra={<Button size="small" onClick={() => gql<{ auditVerify: { ok: boolean; entries: number; problem: string | null } }>(`{ auditVerify { ok entries problem } }`).then((d) => setVerify(d.auditVerify))} data-testid="verify">{t('verify')}</Button>}
          >
            {verify && <Alert style={{ marginBottom: 8 }} type={verify.ok ? 'success' : 'error'} message={`${verify.ok ? '✓' : '✗'} ${verify.entries} ${verify.problem ?? ''}`} data-testid="verify-result" />}
            <Table
              data-testid="audit"
              size="small"
              rowKey="seq"
              dataSource={log}
              pagination={{ pageSize: 15 }}
              columns={[
                { title: '#', dataIndex: 'seq' },
                { title: t('time'), dataIndex: 'at' },
                { title: t('who'), dataIndex: 'who' },
                { title: 'op', dataIndex: 'operation' },
                { title: t('records'), dataIndex: 'recordsTotal' },
                { title: t('outcome'), dataIndex: 'outcome' },
              ]}
            />
          </Card>
        </Col>
      </Row>
    </div>
  );
}
