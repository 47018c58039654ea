import { useState } from 'react';
import { Alert, Button, Card, Input, Space, Typography } from 'antd';
import { useSession } from '../session';
import { useSetLang, useT } from '../i18n';

export function SignIn() {
  const t = useT();
  const setLang = useSetLang();
  const { signIn } = useSession();
  const [value, setValue] = useState('');
  const [failed, setFailed] = useState(false);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    const ok = await signIn(value);
    setBusy(false);
    setFailed(!ok);
  };
  return (
    <div style={{ display: 'flex', justifyContent: 'center', paddingTop: '12vh' }}>
      <Card title={t('app')} style={{ width: 520 }} extra={<Button size="small" onClick={() => setLang(t.lang === 'zh' ? 'en' : 'zh')}>{t('language')}</Button>}>
        <Space direction="vertical" style={{ width: '100%' }}>
          <Typography.Text type="secondary">{t('tokenHint')}</Typography.Text>
          <Input.Password
            data-testid="token"
            placeholder={t('token')}
            value={value}
            onChange={(e) => setValue(e.target.value)}
            onPressEnter={submit}
            autoComplete="off"
          />
          {failed && <Alert type="error" message={t('signinFailed')} data-testid="signin-failed" />}
          <Button type="primary" block loading={busy} onClick={submit} data-testid="signin">
            {t('signin')}
          </Button>
        </Space>
      </Card>
    </div>
  );
}
