// PDK test guest in AssemblyScript (see ../../README.md).
import * as reef from "@reefhq/as-pdk";

export function greet(): i32 {
  const input = reef.inputJSON();
  if (!input.ok) return reef.fail(input.error!.toString());
  const w = reef.config("greeting");
  const g = (w !== null ? w : "Hello") + ", " + input.value.getString("name") + "!";
  reef.outputJSON(reef.Value.object().set("greeting", reef.Value.string(g)));
  return 0;
}

export function count(): i32 {
  const v = reef.varGet("n");
  let n: i64 = 0;
  if (v !== null) n = I64.parseInt(String.UTF8.decode(v.buffer));
  const s = (n + 1).toString();
  reef.varSet("n", Uint8Array.wrap(String.UTF8.encode(s)));
  reef.outputString(s);
  return 0;
}

export function kv(): i32 {
  const input = reef.inputString();
  const i = input.indexOf("=");
  if (i < 0) return reef.fail("want key=value");
  const k = input.substring(0, i);
  const set = reef.kv.setString(k, input.substring(i + 1));
  if (!set.ok) return reef.fail(set.error!.toString());
  const got = reef.kv.getString(k);
  if (!got.ok) return reef.fail(got.error!.toString());
  reef.outputString(got.value);
  return 0;
}

export function fsread(): i32 {
  const r = reef.fs.read(reef.inputString());
  if (!r.ok) return reef.fail(r.error!.toString());
  reef.output(r.value);
  return 0;
}

export function fswrite(): i32 {
  const input = reef.inputString();
  const i = input.indexOf("=");
  const p = input.substring(0, i);
  const w = reef.fs.writeString(p, input.substring(i + 1), true);
  if (!w.ok) return reef.fail(w.error!.toString());
  const st = reef.fs.stat(p);
  if (!st.ok) return reef.fail(st.error!.toString());
  reef.outputString(st.value.getInt("size").toString());
  return 0;
}

export function logs(): i32 {
  reef.log(reef.LogLevel.Info, "hello from the AssemblyScript guest");
  reef.outputString("logged");
  return 0;
}
