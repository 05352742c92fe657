import { DashboardFeed } from './dashboard-feed.service.js';
import { dashboardSourcesProvider } from './dashboard-sources.provider.js';

export { DashboardController } from './dashboard.controller.js';

/** What the ResourceManager module adds for the dashboard, beside `DashboardController`. */
export const DASHBOARD_PROVIDERS = [dashboardSourcesProvider, DashboardFeed];
