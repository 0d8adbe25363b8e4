// GraphQL over wx.request, with the login of wx.login() and one refresh on an expired token.
const config = {url: 'https://api.example-brand.cn/graphql', appId: 'wx1234567890abcdef'}
let tokens = wx.getStorageSync('tokens') || null

export function configure(options) {
  Object.assign(config, options)
}

export function accessToken() {
  return tokens && tokens.accessToken
}

function post(query, variables, token) {
  return new Promise((resolve, reject) => {
    wx.request({
      url: config.url,
      method: 'POST',
      header: Object.assign({'content-type': 'application/json'},
                            token ? {Authorization: `Bearer ${token}`} : {}),
      data: {query, variables},
      success: res => resolve(res.data), // {data, errors}, whatever the HTTP status
      fail: reject,
    })
  })
}

export async function login(displayName) {
  const {code} = await wx.login()
  const {data} = await post(`mutation($app: String!, $code: String!, $name: String) {
      loginWithWechat(input: {appId: $app, code: $code, displayName: $name}) {
        tokens { accessToken refreshToken } member { id } errors { code message } } }`,
    {app: config.appId, code, name: displayName})
  const payload = data.loginWithWechat
  if (payload.errors.length) throw new Error(payload.errors[0].message)
  tokens = payload.tokens
  wx.setStorageSync('tokens', tokens)
  return payload.member
}

export async function gql(query, variables) {
  let body = await post(query, variables, accessToken())
  if (tokens && body.errors && body.errors.some(e => e.extensions.code === 'UNAUTHENTICATED')) {
    await refresh() // expired: one retry with a fresh pair
    body = await post(query, variables, accessToken())
  }
  if (body.errors) throw new Error(body.errors.map(e => e.message).join('; '))
  return body.data
}

async function refresh() {
  const {data} = await post(`mutation($t: String!) { refreshToken(input: {refreshToken: $t}) {
      tokens { accessToken refreshToken } errors { code } } }`, {t: tokens.refreshToken})
  if (data.refreshToken.errors.length) {
    tokens = null
    throw new Error('log in again')
  }
  tokens = data.refreshToken.tokens
  wx.setStorageSync('tokens', tokens)
}
