// The shell: sign-in, the role's menu, and the screens (the heavy ones —
// graph, map, dashboards, playground — loaded when first opened).
import { lazy, Suspense, type ReactNode } from 'react';
import { ConfigProvider, Layout, Menu, Button, Space, Spin, Tag, Result } from 'antd';
import zhCN from 'antd/locale/zh_CN';
import enUS from 'antd/locale/en_US';
import { Link, Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { useSession, screensOf } from './session';
import { useSetLang, useT } from './i18n';
import { SignIn } from './pages/SignIn';
import { Search } from './pages/Search';
import { ArchivePage } from './pages/Archive';
import { Alerts } from './pages/Alerts';
import { WatchLists } from './pages/WatchLists';
import { Investigations } from './pages/Investigations';
import { Admin } from './pages/Admin';

const GraphPage = lazy(() => import('./pages/Graph'));
const MapPage = lazy(() => import('./pages/MapPage'));
const Dashboard = lazy(() => import('./pages/Dashboard'));
const BigScreen = lazy(() => import('./pages/BigScreen'));
const Playground = lazy(() => import('./pages/Playground'));

const PATHS: Record<string, string> = {
  search: '/search',
  graph: '/graph',
  map: '/map',
  alerts: '/alerts',
  watchLists: '/watchlists',
  dashboard: '/dashboard',
  investigations: '/investigations',
  admin: '/admin',
  playground: '/playground',
};

function Loading() {
  return <Spin style={{ margin: 48 }} />;
}

export function App() {
  const { me, ready, signOut } = useSession();
  const t = useT();
  const setLang = useSetLang();
  const loc = useLocation();
  if (!ready) return <Loading />;
  const locale = t.lang === 'zh' ? zhCN : enUS;
  if (!me) {
    return (
      <ConfigProvider locale={locale}>
        <SignIn />
      </ConfigProvider>
    );
  }
  const screens = screensOf(me.role);
  const home = PATHS[screens[0] ?? 'dashboard'];
  const allowed = (s: string, el: ReactNode) =>
    screens.includes(s) ? el : <Result status="403" title={t('notFound')} />;
  if (loc.pathname === '/bigscreen') {
    return (
      <ConfigProvider locale={locale}>
        <Suspense fallback={<Loading />}>{allowed('dashboard', <BigScreen />)}</Suspense>
      </ConfigProvider>
    );
  }
  const selected = Object.entries(PATHS).find(([, p]) => loc.pathname.startsWith(p))?.[0];
  return (
    <ConfigProvider locale={locale}>
      <Layout style={{ minHeight: '100vh' }}>
        <Layout.Header style={{ display: 'flex', alignItems: 'center', gap: 16, padding: '0 16px' }}>
          <div style={{ color: '#fff', fontWeight: 600, whiteSpace: 'nowrap' }}>{t('app')}</div>
          <Menu
            theme="dark"
            mode="horizontal"
            style={{ flex: 1, minWidth: 0 }}
            selectedKeys={selected ? [selected] : []}
            items={screens.map((s) => ({
              key: s,
              label: (
                <Link to={PATHS[s]} data-testid={`nav-${s}`}>
                  {t(s as never)}
                </Link>
              ),
            }))}
          />
          <Space>
            <Tag color="blue" data-testid="whoami">
              {me.name} · {t.term(me.role.toLowerCase())}
            </Tag>
            <Button size="small" onClick={() => setLang(t.lang === 'zh' ? 'en' : 'zh')}>
              {t('language')}
            </Button>
            <Button size="small" onClick={signOut} data-testid="signout">
              {t('signout')}
            </Button>
          </Space>
        </Layout.Header>
        <Layout.Content>
          <Suspense fallback={<Loading />}>
            <Routes>
              <Route path="/" element={<Navigate to={home} replace />} />
              <Route path="/search" element={allowed('search', <Search />)} />
              <Route path="/archive/:ref" element={allowed('search', <ArchivePage />)} />
              <Route path="/graph" element={allowed('graph', <GraphPage />)} />
              <Route path="/map" element={allowed('map', <MapPage />)} />
              <Route path="/alerts" element={allowed('alerts', <Alerts />)} />
              <Route path="/watchlists" element={allowed('watchLists', <WatchLists />)} />
              <Route path="/dashboard" element={allowed('dashboard', <Dashboard />)} />
              <Route path="/investigations" element={allowed('investigations', <Investigations />)} />
              <Route path="/admin" element={allowed('admin', <Admin />)} />
              <Route path="/playground" element={allowed('playground', <Playground />)} />
              <Route path="*" element={<Result status="404" title={t('notFound')} />} />
            </Routes>
          </Suspense>
        </Layout.Content>
      </Layout>
    </ConfigProvider>
  );
}
