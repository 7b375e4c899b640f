// App Service authentication (Easy Auth) with Entra ID for the web console (docs/console.md). The platform signs
// operators in and sets the x-ms-client-principal* headers (and WEBSITE_AUTH_ENABLED=True); it does not block
// anonymous requests by itself (AllowAnonymous), so the Event Grid webhooks keep their system key and the API its
// function keys unchanged. The console function sends a visitor without a signed-in principal to /.auth/login/aad.

@description('Name of the function app.')
param functionAppName string

@description('Application (client) id of the Entra ID app registration operators sign in to. Its redirect URI is https://<app host>/.auth/login/aad/callback and it issues ID tokens.')
param clientId string

@description('Tenant of the app registration.')
param tenantId string

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: clientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${clientId}'
          ]
        }
      }
    }
    login: {
      // Flex Consumption has no persistent file system for a token store; the session cookie is enough.
      tokenStore: {
        enabled: false
      }
    }
    httpSettings: {
      requireHttps: true
    }
  }
}

output enabled bool = auth.properties.platform.enabled
