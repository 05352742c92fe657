import { Controller, Get, Header, Req, Sse, type MessageEvent } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { map, tap, type Observable } from 'rxjs';
import { DashboardFeed } from './dashboard-feed.service.js';
import { DASHBOARD_CONTENT_SECURITY_POLICY, DASHBOARD_HTML } from './dashboard.page.js';

/** A page that loses its stream asks again after this long (EventSource's `retry`). */
const RECONNECT_AFTER_MS = 1_000;

/**
 * The live dashboard on the ResourceManager's HTTP port: the page at `GET /`, and the server-sent
 * events it renders at `GET /events` (each message's `type` is the SSE event name, the message
 * itself its JSON data; see dashboard.messages.ts).
 */
@Controller()
export class DashboardController {
  constructor(private readonly feed: DashboardFeed) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', DASHBOARD_CONTENT_SECURITY_POLICY)
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Cache-Control', 'no-store')
  page(): string {
    return DASHBOARD_HTML;
  }

  @Sse('events')
  events(@Req() request: IncomingMessage & { res?: ServerResponse }): Observable<MessageEvent> {
    return this.feed.messages().pipe(
      map((message) => ({
        type: message.type,
        data: message,
        ...(message.type === 'snapshot' ? { retry: RECONNECT_AFTER_MS } : {}),
      })),
      // The feed completes a stream only at shutdown. Its connection must go with it: Nest keeps
      // an SSE connection alive, and the closing HTTP server would wait out its keep-alive timeout.
      tap({ complete: () => request.res?.once('finish', () => request.socket.destroy()) }),
    );
  }
}
