/** The OpenAPI 3.1 description of the JSON API (served at /api/openapi.json). */
import { defaultOf } from '../config/config.js';
import { SUGGESTION_STATUSES } from '../core/states.js';

const filterParams = [
  {
    name: 'status',
    in: 'query',
    schema: { enum: SUGGESTION_STATUSES },
  },
  { name: 'action', in: 'query', schema: { enum: ['add', 'remove', 'rating'] } },
  {
    name: 'category',
    in: 'query',
    schema: { type: 'integer' },
    description: '0 general, 1 artist, 3 copyright, 4 character, 5 meta',
  },
  { name: 'min', in: 'query', schema: { type: 'number', minimum: 0, maximum: 1 }, description: 'lowest score' },
  { name: 'max', in: 'query', schema: { type: 'number', minimum: 0, maximum: 1 }, description: 'highest score' },
  { name: 'tag', in: 'query', schema: { type: 'string' } },
  { name: 'model', in: 'query', schema: { type: 'integer' }, description: 'model id' },
  { name: 'booru', in: 'query', schema: { type: 'integer' }, description: 'booru id' },
];
const page = { name: 'page', in: 'query', schema: { type: 'integer', minimum: 0 } };
const ok = (description: string) => ({
  '200': { description, content: { 'application/json': { schema: { type: 'object' } } } },
  '401': { description: 'no session and no valid bearer token' },
  '403': { description: 'the role may not do this (or, with a session, a missing CSRF header)' },
});
const decideBody = {
  required: true,
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['ids'],
        properties: { ids: { type: 'array', items: { type: 'integer' }, maxItems: 1000 } },
      },
    },
  },
};
const decideResult = {
  '200': {
    description: 'changed ids, and skipped ones with why (not pending, report-only booru, already applied…)',
    content: {
      'application/json': {
        schema: {
          type: 'object',
          properties: {
            changed: { type: 'array', items: { type: 'integer' } },
            skipped: {
              type: 'array',
              items: { type: 'object', properties: { id: { type: 'integer' }, why: { type: 'string' } } },
            },
          },
        },
      },
    },
  },
  '401': { description: 'unauthenticated' },
  '403': { description: 'not a moderator, or a session call without the x-csrf-token header' },
};

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'booru-tagger review API',
    version: '1',
    description:
      'Everything the review dashboard does. Authenticate with a personal token (`Authorization: Bearer btk_…`, ' +
      'from /account or `booru-tagger users token NAME`), or with the dashboard session cookie plus the page’s CSRF ' +
      'token in an `x-csrf-token` header for writes. Roles: viewer reads, moderator decides.',
  },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/me': { get: { summary: 'who am I', responses: ok('id, name, role') } },
    '/api/suggestions': {
      get: {
        summary: 'suggestions, highest score first',
        parameters: [
          ...filterParams,
          { name: 'limit', in: 'query', schema: { type: 'integer' } },
          { name: 'offset', in: 'query', schema: { type: 'integer' } },
        ],
        responses: ok(
          '{ total, suggestions: [{ id, post, postId, tag, action, category, score, reason, status, applyOutcome, applyError, votes }] } (votes: { combination, models: [{ model, score }] } when several models voted, else null)',
        ),
      },
    },
    '/api/facets': {
      get: { summary: 'counts per action, category, model, booru', parameters: filterParams, responses: ok('facets') },
    },
    '/api/queue': {
      get: {
        summary: 'the queue by post',
        parameters: [
          ...filterParams,
          { name: 'sort', in: 'query', schema: { enum: ['newest', 'oldest', 'score'] } },
          page,
        ],
        responses: ok('{ page, hasMore, posts: [post with suggestions] }'),
      },
    },
    '/api/tags': {
      get: { summary: 'tags with suggestions, most first', parameters: filterParams, responses: ok('{ tags }') },
    },
    '/api/tags/grid': {
      get: {
        summary: 'one tag’s suggestions across posts (tag required)',
        parameters: [...filterParams, { name: 'dir', in: 'query', schema: { enum: ['desc', 'asc'] } }, page],
        responses: ok('{ page, hasMore, items: [{ suggestion, post }] }'),
      },
    },
    '/api/posts/{id}': {
      get: {
        summary: 'a post with its suggestions, scores, decisions and write-backs',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { ...ok('post detail'), '404': { description: 'no such post' } },
      },
    },
    '/api/audit': {
      get: {
        summary: 'the audit log, newest first',
        parameters: [
          { name: 'before', in: 'query', schema: { type: 'integer' } },
          { name: 'actor', in: 'query', schema: { type: 'string' } },
          { name: 'action', in: 'query', schema: { type: 'string' } },
        ],
        responses: ok('{ entries, nextBefore }'),
      },
    },
    '/api/thresholds': {
      get: { summary: 'configured defaults and stored thresholds', responses: ok('{ defaults, stored }') },
    },
    '/api/status': { get: { summary: 'pipeline status', responses: ok('status report') } },
    '/api/suggestions/approve': {
      post: {
        summary: 'approve pending suggestions (queued for write-back)',
        requestBody: decideBody,
        responses: decideResult,
      },
    },
    '/api/suggestions/reject': {
      post: { summary: 'reject pending suggestions', requestBody: decideBody, responses: decideResult },
    },
    '/api/suggestions/undo': {
      post: { summary: 'undo decisions not yet applied', requestBody: decideBody, responses: decideResult },
    },
    '/evaluate': {
      post: {
        summary: 'tag images on demand, wire-compatible with Danbooru’s autotagger (its autotagger_url)',
        description:
          'Open without a token when the operator sets EVALUATE_OPEN=true. Scores come from the tagging model ' +
          '(and the rating model when one is configured); ratings are reported as rating:g|s|q|e.',
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['file'],
                properties: {
                  file: { type: 'array', items: { type: 'string', format: 'binary' }, description: 'one or more' },
                  threshold: { type: 'number', minimum: 0, maximum: 1, default: defaultOf('evaluateThreshold') },
                  limit: { type: 'integer', minimum: 1, default: 50 },
                  format: { enum: ['json', 'html'], default: 'html' },
                },
              },
            },
          },
        },
        responses: {
          '200': {
            description: 'one entry per file, in order; tags by score, highest first',
            content: {
              'application/json': {
                schema: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      filename: { type: 'string' },
                      tags: { type: 'object', additionalProperties: { type: 'number' } },
                    },
                  },
                },
              },
            },
          },
          ...Object.fromEntries(
            [
              ['400', 'no file part, or a bad threshold, limit or format'],
              ['401', 'no valid bearer token (and /evaluate is not open)'],
              ['413', 'a file over the size, count or pixel limit'],
              ['415', 'a file that is not a readable image'],
              ['429', 'too many requests from this client'],
              ['503', 'no model is available'],
            ].map(([status, description]) => [
              status,
              {
                description: `${description}: {"error": …, "message": …}`,
                content: { 'application/json': { schema: { type: 'object' } } },
              },
            ]),
          ),
        },
      },
    },
  },
} as const;
