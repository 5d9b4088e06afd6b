#include "apiserver/store.h"

#include <sqlite3.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/meta.h"

namespace k1s {

// ---- Subscription ----

bool Subscription::wants(const StoreEvent& e) const {
  if (e.res != res_) return false;
  return ns_.empty() || namespaceOf(*e.object) == ns_;
}

void Subscription::push(const StoreEvent& e, bool wake) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_) return;
    // A reader that stopped reading must not hold memory forever: close it and
    // let the client re-list, as kube-apiserver does with slow watchers.
    if (q_.size() >= maxEvents_ || bytes_ + e.bytes() > maxBytes_) {
      closed_ = true;
      q_.clear();
      bytes_ = 0;
    } else {
      q_.push_back(e);
      bytes_ += e.bytes();
    }
  }
  if (wake) this->wake();
}

void Subscription::wake() {
  cv_.notify_one();
  std::function<void()> w;
  {
    std::lock_guard<std::mutex> l(mu_);
    w = waker_;
  }
  if (w) w();
}

void Subscription::setWaker(std::function<void()> waker) {
  bool now;
  {
    std::lock_guard<std::mutex> l(mu_);
    waker_ = waker;
    now = !q_.empty() || closed_;
  }
  if (now && waker) waker();
}

bool Subscription::pop(StoreEvent& out, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait_for(l, timeout, [&] { return !q_.empty() || closed_; });
  if (q_.empty()) return false;
  out = std::move(q_.front());
  q_.pop_front();
  bytes_ -= out.bytes();
  return true;
}

void Subscription::close() {
  std::function<void()> w;
  {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    w = waker_;
  }
  cv_.notify_all();
  if (w) w();
}

bool Subscription::closed() const {
  std::lock_guard<std::mutex> l(mu_);
  return closed_ && q_.empty();
}

// ---- Store ----

static void check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
    throw internalError(std::string(what) + ": " + sqlite3_errmsg(db));
}

Store::Store(const std::string& path, const std::string& synchronous, size_t watchWindow, size_t watchWindowBytes)
    : windowCap_(watchWindow), windowBytesCap_(watchWindowBytes) {
  int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) throw std::runtime_error("cannot open database " + path + ": " + sqlite3_errstr(rc));
  // One process owns the store: in exclusive mode SQLite takes its file locks once instead of
  // on every transaction and keeps the WAL index in memory (no -shm file). It must be set
  // before the first access; a second server on the same data dir is refused at open.
  exec("PRAGMA locking_mode=EXCLUSIVE");
  try {
    exec("PRAGMA journal_mode=WAL");
  } catch (std::exception&) {
    if (sqlite3_errcode(db_) == SQLITE_BUSY || sqlite3_errcode(db_) == SQLITE_LOCKED) {
      sqlite3_close(db_);
      throw std::runtime_error("database " + path + " is in use by another process (is another k1s server running on this data dir?)");
    }
    throw;
  }
  exec(("PRAGMA synchronous=" + synchronous).c_str());
  exec("PRAGMA busy_timeout=5000");
  exec(
      "CREATE TABLE IF NOT EXISTS objects(resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,"
      " rv INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY(resource, namespace, name)) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
      "CREATE TABLE IF NOT EXISTS allocations(pool TEXT NOT NULL, value TEXT NOT NULL, owner TEXT NOT NULL,"
      " PRIMARY KEY(pool, value)) WITHOUT ROWID;"
      "INSERT OR IGNORE INTO meta(key, value) VALUES('revision', 1);");
  load();
}

Store::~Store() {
  for (auto& [_, s] : stmts_) sqlite3_finalize(s);
  sqlite3_close(db_);
}

void Store::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "?";
    sqlite3_free(err);
    throw std::runtime_error(std::string("sqlite: ") + m + " in: " + sql);
  }
}

sqlite3_stmt* Store::stmt(const char* sql) {
  auto it = stmts_.find(sql);
  if (it != stmts_.end()) {
    sqlite3_reset(it->second);
    sqlite3_clear_bindings(it->second);
    return it->second;
  }
  sqlite3_stmt* s = nullptr;
  check(sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr), db_, "prepare");
  stmts_[sql] = s;
  return s;
}

void Store::load() {
  sqlite3_stmt* s = stmt("SELECT value FROM meta WHERE key='revision'");
  if (sqlite3_step(s) == SQLITE_ROW) rv_ = sqlite3_column_int64(s, 0);
  sqlite3_reset(s);  // a statement left on a row would keep a read transaction open
  std::map<std::string, const ResourceInfo*> byName;
  for (auto& r : allResources()) byName[r.groupResource()] = &r;
  s = stmt("SELECT resource, namespace, name, rv, data FROM objects");
  size_t n = 0;
  while (sqlite3_step(s) == SQLITE_ROW) {
    // The newest row's rv is the revision unless a later transaction only deleted (see commit()).
    rv_ = std::max<int64_t>(rv_, sqlite3_column_int64(s, 3));
    std::string res = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    auto it = byName.find(res);
    if (it == byName.end()) continue;  // a kind this build no longer serves: kept on disk, not served
    std::string ns = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
    std::string name = reinterpret_cast<const char*>(sqlite3_column_text(s, 2));
    Json obj = Json::parse(reinterpret_cast<const char*>(sqlite3_column_text(s, 4)));
    obj["metadata"]["resourceVersion"] = std::to_string(sqlite3_column_int64(s, 3));
    data_[it->second][ns + "/" + name] = std::make_shared<const Json>(std::move(obj));
    ++n;
  }
  windowStart_ = rv_;
  LOGV(1, "store", "loaded objects=" << n << " revision=" << rv_);
}

int64_t Store::revision() const {
  std::shared_lock<std::shared_mutex> l(dataMu_);
  return rv_;
}

ObjectPtr Store::get(const ResourceInfo& r, const std::string& ns, const std::string& name) const {
  std::shared_lock<std::shared_mutex> l(dataMu_);
  auto it = data_.find(&r);
  if (it == data_.end()) return nullptr;
  auto o = it->second.find((r.namespaced ? ns : "") + "/" + name);
  return o == it->second.end() ? nullptr : o->second;
}

std::vector<ObjectPtr> Store::list(const ResourceInfo& r, const std::string& ns, int64_t* rv) const {
  std::shared_lock<std::shared_mutex> l(dataMu_);
  if (rv) *rv = rv_;
  std::vector<ObjectPtr> out;
  auto it = data_.find(&r);
  if (it == data_.end()) return out;
  if (ns.empty() || !r.namespaced) {
    out.reserve(it->second.size());
    for (auto& [_, o] : it->second) out.push_back(o);
  } else {
    std::string prefix = ns + "/";
    for (auto o = it->second.lower_bound(prefix); o != it->second.end() && o->first.compare(0, prefix.size(), prefix) == 0; ++o)
      out.push_back(o->second);
  }
  return out;
}

// BEGIN, COMMIT and ROLLBACK run as prepared statements: sqlite3_exec would compile
// them again on every write.
void Store::begin() {
  check(sqlite3_step(stmt("BEGIN IMMEDIATE")), db_, "begin");
  pendingRv_ = rv_;
}

void Store::rollback() {
  if (!sqlite3_get_autocommit(db_)) sqlite3_step(stmt("ROLLBACK"));
  pendingRv_ = rv_;
}

void Store::commit(Txn& t) {
  if (t.events_.empty()) {
    check(sqlite3_step(stmt("COMMIT")), db_, "commit");
    return;
  }
  // The revision survives a restart as the highest rv of the rows (load() takes the max), so
  // a transaction that writes rows needs no second row. One whose last change removes a row
  // would take its revision with it: that one records the revision in meta as well.
  if (t.events_.back().type == "DELETED") {
    sqlite3_stmt* s = stmt("UPDATE meta SET value=? WHERE key='revision'");
    sqlite3_bind_int64(s, 1, pendingRv_);
    check(sqlite3_step(s), db_, "revision");
  }
  check(sqlite3_step(stmt("COMMIT")), db_, "commit");
  {
    std::unique_lock<std::shared_mutex> l(dataMu_);
    for (auto& e : t.events_) {
      auto& m = data_[e.res];
      std::string key = (e.res->namespaced ? namespaceOf(*e.object) : "") + "/" + nameOf(*e.object);
      if (e.type == "DELETED") m.erase(key);
      else m[key] = e.object;
    }
    rv_ = pendingRv_;
  }
  // Publish under watchMu_ so that a watch being set up sees every event exactly once.
  std::lock_guard<std::mutex> l(watchMu_);
  for (auto& e : t.events_) {
    window_.push_back(e);
    windowBytes_ += e.bytes();
    for (auto& sub : subs_)
      if (sub->wants(e)) {
        sub->push(e, false);
        if (t.toWake_.empty() || t.toWake_.back() != sub) t.toWake_.push_back(sub);
      }
  }
  // Dropped by age, oldest first, as kube's watch cache does; the newest event always stays.
  while (window_.size() > 1 && (window_.size() > windowCap_ || windowBytes_ > windowBytesCap_)) {
    windowStart_ = window_.front().rv;
    windowBytes_ -= window_.front().bytes();
    window_.pop_front();
  }
}

std::string Store::Txn::key(const ResourceInfo& r, const std::string& ns, const std::string& name) {
  return r.groupResource() + "|" + (r.namespaced ? ns : "") + "/" + name;
}

ObjectPtr Store::Txn::get(const ResourceInfo& r, const std::string& ns, const std::string& name) const {
  auto it = overlay_.find(key(r, ns, name));
  if (it != overlay_.end()) return it->second;
  return s_.get(r, ns, name);
}

std::vector<ObjectPtr> Store::Txn::list(const ResourceInfo& r, const std::string& ns) const {
  auto base = s_.list(r, ns);
  if (overlay_.empty()) return base;
  std::map<std::string, ObjectPtr> merged;
  for (auto& o : base) merged[key(r, namespaceOf(*o), nameOf(*o))] = o;
  std::string prefix = r.groupResource() + "|";
  for (auto& [k, o] : overlay_) {
    if (k.compare(0, prefix.size(), prefix) != 0) continue;
    if (!o) merged.erase(k);
    else if (ns.empty() || namespaceOf(*o) == ns) merged[k] = o;
  }
  std::vector<ObjectPtr> out;
  for (auto& [_, o] : merged) out.push_back(o);
  return out;
}

ObjectPtr Store::Txn::put(const ResourceInfo& r, Json obj) {
  std::string ns = r.namespaced ? namespaceOf(obj) : "";
  std::string name = nameOf(obj);
  auto prev = get(r, ns, name);
  int64_t rv = ++s_.pendingRv_;
  obj["metadata"]["resourceVersion"] = std::to_string(rv);
  auto text = std::make_shared<const std::string>(obj.dump());
  sqlite3_stmt* st = s_.stmt("INSERT OR REPLACE INTO objects(resource, namespace, name, rv, data) VALUES(?,?,?,?,?)");
  std::string res = r.groupResource();
  sqlite3_bind_text(st, 1, res.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, ns.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 4, rv);
  sqlite3_bind_text(st, 5, text->c_str(), int(text->size()), SQLITE_STATIC);
  check(sqlite3_step(st), s_.db_, "put");
  auto stored = std::make_shared<const Json>(std::move(obj));
  overlay_[key(r, ns, name)] = stored;
  events_.push_back({rv, prev ? "MODIFIED" : "ADDED", &r, stored, prev, text});
  return stored;
}

ObjectPtr Store::Txn::remove(const ResourceInfo& r, Json last) {
  std::string ns = r.namespaced ? namespaceOf(last) : "";
  std::string name = nameOf(last);
  auto prev = get(r, ns, name);
  int64_t rv = ++s_.pendingRv_;
  last["metadata"]["resourceVersion"] = std::to_string(rv);
  sqlite3_stmt* st = s_.stmt("DELETE FROM objects WHERE resource=? AND namespace=? AND name=?");
  std::string res = r.groupResource();
  sqlite3_bind_text(st, 1, res.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, ns.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, name.c_str(), -1, SQLITE_TRANSIENT);
  check(sqlite3_step(st), s_.db_, "delete");
  auto text = std::make_shared<const std::string>(last.dump());
  auto stored = std::make_shared<const Json>(std::move(last));
  overlay_[key(r, ns, name)] = nullptr;
  events_.push_back({rv, "DELETED", &r, stored, prev, text});
  return stored;
}

bool Store::Txn::allocate(const std::string& pool, const std::string& value, const std::string& owner) {
  sqlite3_stmt* st = s_.stmt("INSERT OR IGNORE INTO allocations(pool, value, owner) VALUES(?,?,?)");
  sqlite3_bind_text(st, 1, pool.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, value.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, owner.c_str(), -1, SQLITE_TRANSIENT);
  check(sqlite3_step(st), s_.db_, "allocate");
  return sqlite3_changes(s_.db_) == 1;
}

void Store::Txn::release(const std::string& pool, const std::string& value) {
  sqlite3_stmt* st = s_.stmt("DELETE FROM allocations WHERE pool=? AND value=?");
  sqlite3_bind_text(st, 1, pool.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, value.c_str(), -1, SQLITE_TRANSIENT);
  check(sqlite3_step(st), s_.db_, "release");
}

std::map<std::string, std::string> Store::Txn::allocations(const std::string& pool) const {
  sqlite3_stmt* st = s_.stmt("SELECT value, owner FROM allocations WHERE pool=?");
  sqlite3_bind_text(st, 1, pool.c_str(), -1, SQLITE_TRANSIENT);
  std::map<std::string, std::string> out;
  while (sqlite3_step(st) == SQLITE_ROW)
    out[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))] =
        reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
  return out;
}

std::shared_ptr<Subscription> Store::watch(const ResourceInfo& r, const std::string& ns, int64_t fromRv) {
  // A watcher's queue can take the whole window (a replay) and as much again.
  auto sub = std::make_shared<Subscription>(&r, r.namespaced ? ns : "", std::max<size_t>(100000, 2 * windowCap_),
                                            2 * windowBytesCap_);
  std::lock_guard<std::mutex> l(watchMu_);
  if (fromRv > 0) {
    if (fromRv < windowStart_)
      throw gone("too old resource version: " + std::to_string(fromRv) + " (" + std::to_string(windowStart_) + ")");
    for (auto& e : window_)
      if (e.rv > fromRv && sub->wants(e)) sub->push(e);
  }
  subs_.push_back(sub);
  return sub;
}

void Store::unwatch(const std::shared_ptr<Subscription>& s) {
  s->close();
  std::lock_guard<std::mutex> l(watchMu_);
  std::erase(subs_, s);
}

int64_t Store::oldestWatchableRevision() const {
  std::lock_guard<std::mutex> l(watchMu_);
  return windowStart_;
}

}  // namespace k1s
