import { describe, expect, it } from 'vitest';
import { exprText, get, stringItems, stringValue } from './bicep.js';
import { bicep, moduleOf, paramOf, resourceOf } from './files.js';

// The web console's Entra ID sign-in (docs/console.md): App Service authentication that signs operators in without
// blocking anything by itself, so the Event Grid webhooks and the keyed API keep working; configured only when an
// app registration is given.
describe('console sign-in (App Service authentication)', () => {
  const file = bicep('modules/console-auth.bicep');
  const auth = resourceOf(file, 'auth');

  it('is the site\'s authsettingsV2 with the Entra ID provider of the given app registration', () => {
    expect(auth.type).toBe('Microsoft.Web/sites/config');
    expect(stringValue(get(auth.body, 'name'))).toBe('authsettingsV2');
    expect(exprText(get(auth.body, 'properties.platform.enabled'))).toBe('true');
    expect(exprText(get(auth.body, 'properties.identityProviders.azureActiveDirectory.enabled'))).toBe('true');
    expect(exprText(get(auth.body, 'properties.identityProviders.azureActiveDirectory.registration.clientId'))).toBe('clientId');
    expect(exprText(get(auth.body, 'properties.identityProviders.azureActiveDirectory.registration.openIdIssuer'))).toContain('${tenantId}/v2.0');
    expect(stringItems(get(auth.body, 'properties.identityProviders.azureActiveDirectory.validation.allowedAudiences'))).toEqual([undefined]);
  });

  it('lets anonymous requests through to the app, which gates the console itself (webhooks and keyed API unchanged)', () => {
    expect(exprText(get(auth.body, 'properties.globalValidation.requireAuthentication'))).toBe('false');
    expect(stringValue(get(auth.body, 'properties.globalValidation.unauthenticatedClientAction'))).toBe('AllowAnonymous');
    expect(exprText(get(auth.body, 'properties.httpSettings.requireHttps'))).toBe('true');
  });

  it('is deployed by main.bicep only when consoleSignInClientId is set', () => {
    const main = bicep('main.bicep');
    expect(stringValue(paramOf(main, 'consoleSignInClientId').defaultValue)).toBe('');
    const mod = moduleOf(main, 'consoleSignIn');
    expect(mod.path).toBe('modules/console-auth.bicep');
    expect(mod.condition).toContain('!empty(consoleSignInClientId)');
  });
});
