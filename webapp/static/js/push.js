// Web Push on this device: ask only after a tap, and keep the server's copy of this device's subscription current.
import { get, post, request } from "./api.js";

// The endpoint this device last posted for an account: the page compares it on every visit,
// since `pushsubscriptionchange` only reliably reaches the service worker in Firefox.
const postedKey = (userId) => `plate-push-endpoint-${userId}`;

const isIos = () => /iPad|iPhone|iPod/.test(navigator.userAgent) || (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
const isStandalone = () => navigator.standalone === true || matchMedia("(display-mode: standalone)").matches;

/** "ok", "ios-home-screen" (iOS pushes only to an app on the Home Screen), "unsupported" or "denied". */
export function pushSupport() {
  if (isIos() && !isStandalone()) return "ios-home-screen";
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return "unsupported";
  return Notification.permission === "denied" ? "denied" : "ok";
}

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "=")), (c) => c.charCodeAt(0));
}

function sameKey(subscription, key) {
  const current = subscription.options?.applicationServerKey;
  if (!current) return true; // the browser does not say: assume it is ours
  const a = new Uint8Array(current);
  return a.length === key.length && a.every((byte, i) => byte === key[i]);
}

async function registration() {
  return navigator.serviceWorker.getRegistration("/");
}

/** This device's subscription, or null (also when the browser cannot push). */
export async function currentSubscription() {
  if (pushSupport() !== "ok") return null;
  return (await registration())?.pushManager.getSubscription() ?? null;
}

async function postSubscription(userId, subscription) {
  await post("/push/subscriptions", subscription.toJSON());
  localStorage.setItem(postedKey(userId), subscription.endpoint);
}

async function subscribe(userId) {
  const ready = await navigator.serviceWorker.ready;
  const key = keyBytes((await get("/push/public-key")).public_key);
  let subscription = await ready.pushManager.getSubscription();
  if (subscription && !sameKey(subscription, key)) { // the server's key changed: the old subscription is useless
    await subscription.unsubscribe();
    subscription = null;
  }
  subscription ??= await ready.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  await postSubscription(userId, subscription);
  return subscription;
}

/** Called only from a tap on "Turn on notifications": iOS refuses a permission request without one. */
export async function turnOn(userId) {
  const permission = await Notification.requestPermission();
  if (permission !== "granted") return permission;
  await subscribe(userId);
  return "granted";
}

const forget = (endpoint) => request("DELETE", "/push/subscriptions", { body: { endpoint } });

/** Stop pushing to this device: the server forgets the endpoint, then the browser drops it. */
export async function turnOff(userId) {
  const subscription = await currentSubscription();
  const endpoint = subscription?.endpoint || localStorage.getItem(postedKey(userId));
  if (endpoint) await forget(endpoint);
  await subscription?.unsubscribe();
  localStorage.removeItem(postedKey(userId));
}

/** On logging out: whoever uses this device next must not see this person's digests, online or not. */
export async function forgetDevice(userId) {
  const subscription = await currentSubscription().catch(() => null);
  const endpoint = subscription?.endpoint || localStorage.getItem(postedKey(userId));
  if (endpoint) await forget(endpoint).catch(() => {}); // offline: the push service's 404/410 ends it later
  await subscription?.unsubscribe().catch(() => {});
  localStorage.removeItem(postedKey(userId));
}

export const sendTest = () => post("/push/test");

/** Whether the server still pushes to this endpoint for this account (offline: what this device last posted). */
async function serverKnows(userId, endpoint) {
  try {
    return (await get("/push/subscriptions")).some((known) => known.endpoint === endpoint);
  } catch {
    return endpoint === localStorage.getItem(postedKey(userId));
  }
}

/** On every page load: re-post a subscription the browser changed, or the server no longer has
 *  (a push service's 404/410 removed it, or someone else signed in on this device since). */
export async function keepSubscriptionCurrent(userId) {
  if (pushSupport() !== "ok" || Notification.permission !== "granted") return;
  const reg = await registration();
  if (!reg) return;
  const subscription = await reg.pushManager.getSubscription();
  const posted = localStorage.getItem(postedKey(userId));
  if (subscription) {
    if (!(await serverKnows(userId, subscription.endpoint))) await postSubscription(userId, subscription);
    return;
  }
  if (posted) { // notifications were on, and the browser dropped the subscription: subscribe again
    await forget(posted).catch(() => {});
    localStorage.removeItem(postedKey(userId));
    await subscribe(userId);
  }
}
