-- A database built to break naive dumps: binary, JSON, arrays, unicode,
-- NULLs everywhere, and the objects that are not tables.
create sequence invoice_seq start 1000;
create table samples (
    id serial primary key,
    blob bytea,
    doc jsonb,
    tags text[],
    scores integer[],
    label text,
    amount numeric(12, 4),
    seen_at timestamptz,
    flag boolean
);
insert into samples (blob, doc, tags, scores, label, amount, seen_at, flag)
select
    case when i % 7 = 0 then null else decode(md5(i::text) || md5((i * 31)::text), 'hex') end,
    case when i % 5 = 0 then null else jsonb_build_object('i', i, 'nested', jsonb_build_array(i, 'x', null), 'ü', 'ñandú') end,
    case when i % 3 = 0 then null else array['a' || i, 'tag with space', 'Ελληνικά'] end,
    array[i, i * 2, null],
    case i % 4 when 0 then null when 1 then '日本語テキスト ' || i when 2 then 'emoji 🚀 ' || i else E'quote '' and \\ backslash\n newline' end,
    i * 1.2345,
    timestamptz '2024-01-01 00:00:00+00' + (i || ' minutes')::interval,
    case when i % 2 = 0 then true when i % 3 = 0 then null else false end
from generate_series(1, 2000) as i;
insert into samples (blob) values (''::bytea), (decode('00ff00ff', 'hex'));

create table audit (id bigserial primary key, sample_id int, note text, at timestamptz default now());
create function note_insert() returns trigger language plpgsql as $$
begin
    insert into audit (sample_id, note) values (new.id, 'inserted ' || coalesce(new.label, '∅'));
    return new;
end $$;
create trigger samples_audit after insert on samples for each row execute function note_insert();
insert into samples (label) values ('after trigger');
create view labelled as select id, label from samples where label is not null;
select nextval('invoice_seq'), nextval('invoice_seq'), nextval('invoice_seq');
