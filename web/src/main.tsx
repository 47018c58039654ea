import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router-dom';
import { App } from './App';
import { I18n } from './i18n';
import { SessionProvider } from './session';
import './app.css';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <I18n>
      <SessionProvider>
        <BrowserRouter>
          <App />
        </BrowserRouter>
      </SessionProvider>
    </I18n>
  </StrictMode>,
);
